//! Express ignores a trailing slash and the router merges `//`: actix's `NormalizePath::trim()`
//! does both, but it copies the path and runs a regular expression on every request. Almost no
//! path needs it, so this hands a request to `NormalizePath` only when its path ends in `/` (other
//! than the root) or holds `//`, and straight to the app otherwise: the same paths, normalised the
//! same way.

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::middleware::NormalizePath;
use actix_web::Error;
use futures_util::FutureExt;
use std::future::{ready, Ready};
use std::rc::Rc;

/// Whether `NormalizePath::trim()` would change `path`.
fn needs_normalizing(path: &str) -> bool {
    (path.len() > 1 && path.ends_with('/')) || path.contains("//")
}

pub struct TrimPath;

impl<S, B> Transform<S, ServiceRequest> for TrimPath
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform =
        TrimPathService<S, <NormalizePath as Transform<Rc<S>, ServiceRequest>>::Transform>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let service = Rc::new(service);
        // `NormalizePath` builds its service at once (its future is ready).
        let normalize = NormalizePath::trim()
            .new_transform(service.clone())
            .now_or_never()
            .and_then(Result::ok);
        ready(
            normalize
                .map(|normalize| TrimPathService { service, normalize })
                .ok_or(()),
        )
    }
}

/// `N`: `NormalizePath`'s service around the same `S` (its future is `S`'s).
pub struct TrimPathService<S, N> {
    service: Rc<S>,
    normalize: N,
}

impl<S, N, B> Service<ServiceRequest> for TrimPathService<S, N>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    N: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error, Future = S::Future>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = S::Future;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if needs_normalizing(req.path()) {
            self.normalize.call(req)
        } else {
            self.service.call(req)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::needs_normalizing;

    #[test]
    fn only_paths_normalize_path_would_change_are_handed_to_it() {
        for path in ["/", "/user", "/v1/auth/signin", "/users/abc", ""] {
            assert!(!needs_normalizing(path), "{path}");
        }
        for path in [
            "/user/",
            "//user",
            "/v1//auth",
            "/v1/auth/signin//",
            "//",
            "/a/b/",
        ] {
            assert!(needs_normalizing(path), "{path}");
        }
    }
}

//! What the binary learns about a request before a facade sees it: the tenant its `Host` resolved
//! to and the client's address. The binary puts one into the request's extensions; facades read it.

use crate::tenants::Tenant;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub tenant: Arc<Tenant>,
    pub client_ip: IpAddr,
}

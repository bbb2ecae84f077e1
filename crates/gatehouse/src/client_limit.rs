//! The cap on requests in flight per client address (`server.max_in_flight_per_ip`, 0 turns it off),
//! so one address holding requests open (slow bodies, say) cannot take every connection the
//! process has. The count is shared by all workers; the address is the one the limits trust
//! (see `forwarded`).

use crate::forwarded::{client_ip_of, Trust};
use crate::gateway_error::gateway_error;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub struct InFlight {
    per_ip: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One request counted against its address until dropped.
struct Slot {
    owner: Arc<InFlight>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.owner.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

impl InFlight {
    pub fn new(per_ip: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            per_ip,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            return None;
        }
        *n += 1;
        Some(Slot {
            owner: self.clone(),
            ip,
        })
    }
}

pub async fn limit_in_flight_per_ip(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (Some(in_flight), Some(trust)) = (
        req.app_data::<web::Data<InFlight>>().cloned(),
        req.app_data::<web::Data<Trust>>().map(|t| *t.get_ref()),
    ) else {
        return next.call(req).await;
    };
    if in_flight.per_ip == 0 {
        return next.call(req).await;
    }
    let in_flight = in_flight.into_inner();
    let Some(slot) = in_flight.enter(client_ip_of(req.head(), trust)) else {
        let mut res = gateway_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many requests in flight from this address",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        res.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(req.into_response(res));
    };
    let res = next.call(req).await;
    drop(slot);
    res
}

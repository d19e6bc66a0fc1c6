//! An agent's merge of the ticket's customer with another who is the same person, named by one
//! of their tickets (its link or id) or by their customer id; through the API's own operation.

use super::data_rights::customer_of;
use super::{done, failed, unreadable};
use crate::Console;
use crate::session::{Checked, SignedIn};
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use socialcare_app::api::{self, Store};
use socialcare_app::error::ApiError;
use socialcare_domain::{CustomerId, TicketId};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    other: String,
}

/// `POST /tickets/{id}/customer/merge`: the customer the form names moves into the ticket's.
pub async fn merge_customer<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<MergeForm>,
) -> Response {
    if TicketId::parse(&id).is_none() {
        return unreadable(&signed_in, &id);
    }
    let customer = match customer_of(&console, &signed_in, &id).await {
        Ok(customer) => customer,
        Err(page) => return page,
    };
    let merged = match named_customer(&console, &form.other).await {
        Ok(other) => {
            api::merge_customer_by(&console.api, &signed_in.caller, customer.as_str(), &other).await
        }
        Err(e) => Err(e),
    };
    match merged {
        Ok(_) => done(&id, "merged"),
        // This ticket's customer is there: what is missing is the one the form named, which
        // the ticket page says (an error page would leave the ticket).
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            let refused = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_found", e.message);
            failed(&console, &signed_in, &id, refused).await
        }
        Err(e) => failed(&console, &signed_in, &id, e).await,
    }
}

/// The customer id a form names: `cus_…` as it is, or the customer of a ticket named by its
/// `tkt_…` id or its link (`…/tickets/tkt_…?…`).
async fn named_customer<S: Store>(console: &Console<S>, named: &str) -> Result<String, ApiError> {
    let last = named.trim().trim_end_matches('/').rsplit('/').next();
    let last = last.and_then(|l| l.split(['?', '#']).next()).unwrap_or("");
    if let Some(ticket) = TicketId::parse(last) {
        return match console.api.store.get_ticket(&ticket).await {
            Ok(Some(ticket)) => Ok(ticket.customer_id.to_string()),
            Ok(None) => Err(ApiError::not_found(format!("no ticket {ticket}"))),
            Err(e) => Err(ApiError::store(e)),
        };
    }
    match CustomerId::parse(last) {
        Some(customer) => Ok(customer.to_string()),
        None => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_customer",
            "Name the other customer by one of their tickets (its link or tkt_ id) or their cus_ id.",
        )),
    }
}

//! An admin's data-rights actions on a ticket's customer: the export as a file, and erasure
//! (confirmed by typing "erase"); both through the API's own operations.

use super::{done, failed, unreadable};
use crate::Console;
use crate::page;
use crate::session::{Checked, SignedIn};
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use socialcare_app::api::{self, Store};
use socialcare_app::error::ApiError;
use socialcare_domain::{CustomerId, TicketId};
use std::sync::Arc;

/// The ticket's customer, or the page that says why there is none.
pub(super) async fn customer_of<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    id: &str,
) -> Result<CustomerId, Response> {
    let not_found = || {
        page::error(
            StatusCode::NOT_FOUND,
            &format!("no ticket {id}"),
            Some(signed_in.agent()),
            "/",
        )
    };
    let ticket_id = TicketId::parse(id).ok_or_else(not_found)?;
    match console.api.store.get_ticket(&ticket_id).await {
        Ok(Some(ticket)) => Ok(ticket.customer_id),
        Ok(None) => Err(not_found()),
        Err(e) => Err(page::api_error(
            &ApiError::store(e),
            Some(signed_in.agent()),
            "/",
        )),
    }
}

/// `GET /tickets/{id}/customer/export` (admin): the customer's export, as a JSON file.
pub async fn export_customer<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
) -> Response {
    let customer = match customer_of(&console, &signed_in, &id).await {
        Ok(customer) => customer,
        Err(page) => return page,
    };
    match api::export_customer_by(&console.api, &signed_in.caller, customer.as_str()).await {
        Ok(export) => match serde_json::to_vec_pretty(&export) {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"customer-{customer}.json\""),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the export could not be written: {e}"),
                Some(signed_in.agent()),
                &format!("/tickets/{id}"),
            ),
        },
        Err(e) => page::api_error(&e, Some(signed_in.agent()), &format!("/tickets/{id}")),
    }
}

#[derive(Debug, Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /tickets/{id}/customer/erase` (admin): erases the ticket's customer, then shows the
/// ticket as it is left.
pub async fn erase_customer<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Checked(form): Checked<EraseForm>,
) -> Response {
    if form.confirm.trim() != "erase" {
        let refused = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_confirmed",
            "Type erase to confirm: nothing was erased.",
        );
        return failed(&console, &signed_in, &id, refused).await;
    }
    if TicketId::parse(&id).is_none() {
        return unreadable(&signed_in, &id);
    }
    let customer = match customer_of(&console, &signed_in, &id).await {
        Ok(customer) => customer,
        Err(page) => return page,
    };
    match api::erase_customer_by(&console.api, &signed_in.caller, customer.as_str()).await {
        Ok(_) => done(&id, "erased"),
        Err(e) => failed(&console, &signed_in, &id, e).await,
    }
}

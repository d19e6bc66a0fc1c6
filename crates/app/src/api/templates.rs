//! `/v1/templates`: reply templates, checked when saved.

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<Template>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTemplate {
    /// letters, digits, '-' and '_'
    pub id: String,
    /// with {{customer.name}}, {{customer.handle}}, {{agent.name}}, {{ticket.id}}, {{ticket.subject}}
    pub text: String,
    pub language: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplateText {
    text: String,
    language: Option<String>,
}

pub(super) fn invalid_template(e: TemplateError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_template",
        e.to_string(),
    )
}

pub(super) fn no_template(id: &str) -> ApiError {
    ApiError::not_found(format!("no template {id}"))
}

#[utoipa::path(get, path = "/v1/templates", tag = "templates",
    responses((status = 200, body = TemplateList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
/// `GET /v1/templates` (agent).
pub(super) async fn list_templates<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TemplateList>, ApiError> {
    caller.require(Role::Agent)?;
    let templates = state
        .store
        .list_templates()
        .await
        .map_err(ApiError::store)?;
    Ok(Json(TemplateList { templates }))
}

#[utoipa::path(get, path = "/v1/templates/{id}", tag = "templates", params(("id" = String, Path)),
    responses((status = 200, body = Template), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
/// `GET /v1/templates/{id}` (agent).
pub(super) async fn get_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Template>, ApiError> {
    caller.require(Role::Agent)?;
    state
        .store
        .get_template(&id)
        .await
        .map_err(ApiError::store)?
        .map(Json)
        .ok_or_else(|| no_template(&id))
}

#[utoipa::path(post, path = "/v1/templates", tag = "templates", request_body = NewTemplate,
    responses(
        (status = 201, body = Template),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "template_exists", body = ErrorBody),
        (status = 422, description = "invalid_template: an unknown variable is named", body = ErrorBody),
    ),
    security(("bearer" = [])))]
/// `POST /v1/templates` (admin): variables are checked now, not when a reply is sent.
pub(super) async fn create_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    caller.require(Role::Admin)?;
    let request: NewTemplate = parse(&body)?;
    let template = create_template_by(&state, &caller, request).await?;
    Ok((StatusCode::CREATED, Json(template)))
}

/// An admin saves a new template, checked first.
pub async fn create_template_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    request: NewTemplate,
) -> Result<Template, ApiError> {
    caller.require(Role::Admin)?;
    socialcare_domain::templates::check(&request.id, &request.text).map_err(invalid_template)?;
    let now = Utc::now();
    let template = Template {
        id: request.id,
        text: request.text,
        language: request.language,
        created_at: now,
        updated_at: now,
    };
    match state.store.create_template(&template).await {
        Ok(()) => Ok(template),
        Err(CommitError::Store(e)) => Err(ApiError::store(e)),
        Err(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "template_exists",
            format!("template {} exists; PUT replaces it", template.id),
        )),
    }
}

#[utoipa::path(put, path = "/v1/templates/{id}", tag = "templates", params(("id" = String, Path)), request_body = TemplateText,
    responses(
        (status = 200, body = Template),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_template", body = ErrorBody),
    ),
    security(("bearer" = [])))]
/// `PUT /v1/templates/{id}` (admin): replaces the text of an existing template.
pub(super) async fn replace_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Template>, ApiError> {
    caller.require(Role::Admin)?;
    let request: TemplateText = parse(&body)?;
    Ok(Json(
        replace_template_by(&state, &caller, &id, &request.text, request.language).await?,
    ))
}

/// An admin replaces the text (and language) of template `id`, checked first.
pub async fn replace_template_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    text: &str,
    language: Option<String>,
) -> Result<Template, ApiError> {
    caller.require(Role::Admin)?;
    socialcare_domain::templates::check(id, text).map_err(invalid_template)?;
    let existing = state
        .store
        .get_template(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| no_template(id))?;
    let template = Template {
        text: text.to_string(),
        language,
        updated_at: Utc::now(),
        ..existing
    };
    state
        .store
        .put_template(&template)
        .await
        .map_err(ApiError::store)?;
    Ok(template)
}

#[utoipa::path(delete, path = "/v1/templates/{id}", tag = "templates", params(("id" = String, Path)),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
/// `DELETE /v1/templates/{id}` (admin).
pub(super) async fn delete_template<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_template_by(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin deletes template `id`.
pub async fn delete_template_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    match state.store.delete_template(id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(no_template(id)),
        Err(e) => Err(ApiError::store(e)),
    }
}

//! The OpenAPI 3.1 document, served at `/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::problem::{FieldError, Problem};
use crate::service::CaseBody;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "fazhi",
        description = "Cases under statutory administrative procedures: open them, take actions the procedure allows, read deadlines, history and the archive. Errors are application/problem+json (RFC 9457) with a stable `type` per kind under https://fazhi.dev/problems/.",
    ),
    paths(
        api::healthz,
        api::list_procedures,
        api::get_procedure,
        api::get_graph,
        api::open_case,
        api::list_cases,
        api::get_case,
        api::append_event,
        api::get_events,
        api::get_dossier,
    ),
    components(schemas(
        Problem,
        FieldError,
        CaseBody,
        api::ProcedureSummary,
        api::OpenRequest,
        api::AppendRequest,
        api::DocumentIn,
        api::EventOut,
        api::AppendResponse,
        api::CaseList,
        api::History,
        api::Dossier,
        api::DossierDocument,
        api::ChainCheck,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi().to_json().unwrap_or_default()
}

//! The OpenAPI 3.1 document, served at `/openapi.json`.

use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
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

/// The problems any operation may answer with, listed on each: 401 where a token is needed,
/// 400 for a path or query that does not parse, 413 and 415 for a body, 500 and 503 always.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for (method, op) in [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
            ] {
                let Some(op) = op else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/problem+json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                };
                if secured {
                    add(
                        "401",
                        "no bearer token, or one no principal has (`unauthorized`)",
                    );
                    add(
                        "400",
                        "a path or query that does not parse (`malformed-request`)",
                    );
                }
                if method == HttpMethod::Post {
                    add("413", "a body over the size limit (`payload-too-large`)");
                    add(
                        "415",
                        "a body that is not `application/json` (`unsupported-media-type`)",
                    );
                }
                add(
                    "500",
                    "a fault of the service (`internal`): stored data that does not read back",
                );
                add(
                    "503",
                    "with `Retry-After`: the store refuses or failed the request (`unavailable`: nothing was written), or a commit failed (`outcome-unknown`: the write may have been saved; retry with the same `Idempotency-Key`)",
                );
            }
        }
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
        api::ProcedureSource,
        api::RoleName,
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
    modifiers(&BearerAuth, &CommonProblems),
)]
pub struct ApiDoc;

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi().to_json().unwrap_or_default()
}

//! The legal office's console: a read-only web page over the public API, embedded in the
//! binary (no build step, no CDN). `GET /console/` serves the page; it signs in with a bearer
//! token (kept in the tab's session storage) and reads everything else through `/v1`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const INDEX: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const APP_CSS: &str = include_str!("../console/app.css");

/// The page's own policy: scripts and styles from this server only, pictures from `blob:`
/// URLs the page makes of the SVG it fetched, and connections to this server only.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body)
}

/// `GET /console/`: the page.
pub async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX)
}

/// `GET /console`: to `/console/`, where the page's relative links work.
pub async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/console/"))
        .finish()
}

/// `GET /console/app.js`.
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /console/app.css`.
pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// The console's routes (GET and HEAD), for the application.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    use crate::startup::{get_or_head, resource};
    cfg.service(resource("/console", "GET, HEAD").route(get_or_head().to(redirect)))
        .service(resource("/console/", "GET, HEAD").route(get_or_head().to(index)))
        .service(resource("/console/app.js", "GET, HEAD").route(get_or_head().to(script)))
        .service(resource("/console/app.css", "GET, HEAD").route(get_or_head().to(style)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget for the first page: under 100 KB, everything included.
    #[test]
    fn the_first_page_weighs_under_100_kb() {
        let total = INDEX.len() + APP_JS.len() + APP_CSS.len();
        assert!(total < 100 * 1024, "the console weighs {total} bytes");
    }
}

//! The console's needs from the API: the case's own picture with where it stands marked, a
//! procedure's titles for everything a case names by id, and the embedded page itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[allow(dead_code)] // The helpers are shared with `api.rs`, which uses the rest.
mod helpers;

use helpers::{spawn_app, today};

const MARK: &str = "本案当前所处";

#[actix_web::test]
async fn a_case_picture_marks_the_state_the_case_is_in() {
    let app = spawn_app().await;
    let case = app.open(&today()).await;
    let r = app.get(&format!("/v1/cases/{case}/graph"), "village").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("image/svg+xml")
    );
    assert_eq!(r.text.matches(MARK).count(), 1, "{}", r.text);
    // The marked box is the box of the state the case is in, by its title.
    let c = app.get(&format!("/v1/cases/{case}"), "village").await;
    let p = app
        .get("/v1/procedures/village-rules-filing", "village")
        .await;
    let state = c.body["state"].as_str().unwrap();
    let title = p.body["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == state)
        .unwrap()["title"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = r.text.find("fill=\"#fff3d6\"").unwrap();
    let next = r.text[at + 10..]
        .find("<rect")
        .map_or(r.text.len(), |n| at + 10 + n);
    assert!(
        r.text[at..next].contains(&title),
        "the marked box is not 「{title}」"
    );
    // After a move, the mark moves with the case.
    assert_eq!(
        app.submit(&case, c.body["seq"].as_u64().unwrap())
            .await
            .status,
        201
    );
    let c2 = app.get(&format!("/v1/cases/{case}"), "village").await;
    assert_ne!(c2.body["state"], c.body["state"]);
    let r2 = app.get(&format!("/v1/cases/{case}/graph"), "village").await;
    assert_eq!(r2.text.matches(MARK).count(), 1);
    assert_ne!(r2.text, r.text);
    // The filing has no parallel tracks: asking for them is a 422 at `tracks`, in Chinese.
    let r = app
        .get(&format!("/v1/cases/{case}/graph?tracks=true"), "village")
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("没有并行环节"), "{}", r.text);
    // A case the caller may not read, and a missing one: the same 404.
    let other = app
        .get(&format!("/v1/cases/{case}/graph"), "village2")
        .await;
    let missing = app.get("/v1/cases/no-such-case/graph", "village").await;
    assert_eq!((other.status, missing.status), (404, 404));
    assert_eq!(other.body["type"], missing.body["type"]);
    // An unknown query parameter is a 400, as on every route.
    let r = app
        .get(&format!("/v1/cases/{case}/graph?state=x"), "village")
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[actix_web::test]
async fn a_procedure_gives_the_titles_of_what_cases_name_by_id() {
    let app = spawn_app().await;
    let r = app
        .get("/v1/procedures/village-rules-filing", "village")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for list in ["states", "facts", "documents", "actions"] {
        let items = r.body[list].as_array().unwrap();
        assert!(!items.is_empty(), "{list}");
        for item in items {
            assert!(
                item["id"].is_string() && item["title"].is_string(),
                "{list}: {item}"
            );
            assert_ne!(item["id"], item["title"], "{list}: a title, not the id");
        }
    }
    // Every action names its roles and places by title, never by id.
    let roles: Vec<&str> = r.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    for a in r.body["actions"].as_array().unwrap() {
        for by in a["by"].as_array().unwrap() {
            assert!(!roles.contains(&by.as_str().unwrap()), "{a}");
        }
        assert!(!a["from"].as_array().unwrap().is_empty(), "{a}");
    }
}

#[actix_web::test]
async fn the_console_is_served_without_a_token_and_reads_through_v1() {
    let app = spawn_app().await;
    let page = app.send("GET", "/console/", None, &[], None).await;
    // `/console` leads there (the client follows the 308).
    let r = app.send("GET", "/console", None, &[], None).await;
    assert_eq!((r.status, &r.text), (200, &page.text));
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("lang=\"zh-CN\""));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let mut total = page.text.len();
    for (path, kind) in [
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        assert!(page.text.contains(path), "the page loads {path}");
        let r = app.send("GET", path, None, &[], None).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        total += r.text.len();
        // Nothing from elsewhere: no CDN, no absolute URL to another host.
        assert!(
            !r.text.contains("http://") && !r.text.contains("https://"),
            "{path}"
        );
    }
    assert!(total < 100 * 1024, "the first page weighs {total} bytes");
    // The script reads only through the public API.
    let js = app
        .send("GET", "/console/app.js", None, &[], None)
        .await
        .text;
    for call in js.match_indices("api(`").map(|(i, _)| &js[i + 5..]) {
        assert!(call.starts_with("/v1/"), "{}", &call[..40.min(call.len())]);
    }
    let r = app.send("HEAD", "/console/", None, &[], None).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn a_procedure_gives_the_titles_of_an_enum_facts_values() {
    let app = spawn_app().await;
    let r = app
        .get("/v1/procedures/village-rules-filing", "village")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let facts = r.body["facts"].as_array().unwrap();
    let outcome = facts.iter().find(|f| f["id"] == "outcome").unwrap();
    assert_eq!(
        outcome["labels"],
        serde_json::json!({ "lawful": "合法", "unlawful": "不合法" })
    );
    // A fact that is not an enum carries no labels.
    let adopted = facts.iter().find(|f| f["id"] == "adopted_on").unwrap();
    assert!(adopted.get("labels").is_none(), "{adopted}");
}

//! `GET /v1/procedures/{id}/graph?state=STATE`: the picture of one state's parallel tracks,
//! as `fazhi graph ID --state STATE` draws it.

use fazhi_core::model::Procedure;

use crate::problem::{ApiError, Problem};

/// The SVG of the parallel tracks of `state` (a state's id). Otherwise a 422 at `state`, in
/// Chinese with English beside: with a format other than SVG, or for a state that is not one
/// or has no tracks (naming it and listing the states that can be drawn).
pub(crate) fn state_svg(p: &Procedure, format: &str, state: &str) -> Result<String, ApiError> {
    if format != "svg" {
        return Err(ApiError::invalid(
            "state",
            format!(
                "`state`只能与`format=svg`同用（`{format}`不能绘制单个阶段）（`state` draws SVG only: use `format=svg`, not `{format}`）"
            ),
        ));
    }
    if let Some(svg) = fazhi_core::graph::to_state_svg(p, state) {
        return Ok(svg);
    }
    let drawn = fazhi_core::graph::states_with_tracks(p);
    let zh: Vec<String> = drawn
        .iter()
        .map(|s| format!("{}（{}）", s.id(), s.title()))
        .collect();
    let en: Vec<&str> = drawn.iter().map(|s| s.id()).collect();
    let (why_zh, why_en) = match p.state(state) {
        Some(s) => (
            format!(
                "程序“{}”的阶段“{}”（{state}）没有并行环节",
                p.meta.title,
                s.title()
            ),
            format!("state `{state}` of `{}` has no parallel tracks", p.meta.id),
        ),
        None => (
            format!("程序“{}”没有阶段“{state}”", p.meta.title),
            format!("`{state}` is not a state of `{}`", p.meta.id),
        ),
    };
    let (list_zh, list_en) = if drawn.is_empty() {
        (
            "该程序没有可单独绘制的阶段".to_owned(),
            "it has no state with parallel tracks".to_owned(),
        )
    } else {
        (
            format!("可绘制的阶段：{}", zh.join("、")),
            format!("the states with parallel tracks are: {}", en.join(", ")),
        )
    };
    // The query is well formed; the state does not fit this procedure: 422, as for any value
    // the server understands but cannot act on.
    Err(ApiError::invalid(
        "state",
        format!("{why_zh}；{list_zh}（{why_en}; {list_en}）"),
    ))
}

/// `GET /v1/cases/{id}/graph`: the query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CaseGraphQuery {
    /// `true`: the parallel tracks of the case's current state, each track's current state
    /// marked (a 422 when the current state has no tracks). Default: the overview with the
    /// current state marked.
    pub tracks: Option<bool>,
}

/// The picture of a case: the procedure (the version the case runs on) as
/// `GET /v1/procedures/{id}/graph` draws it, with the state the case is in filled and framed
/// in orange and tagged 「◆ 本案当前所处」; with `tracks=true`, the parallel tracks of the
/// current state with each track's current state marked. A case the caller may not read is
/// 404, as a missing one.
#[utoipa::path(get, path = "/v1/cases/{id}/graph", tag = "cases",
    params(("id" = String, Path, description = "the case's id"), CaseGraphQuery),
    responses((status = 200, description = "the drawing", content((String = "image/svg+xml"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`chain-broken`: the case's stored history does not verify"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`tracks=true` and the case's current state has no parallel tracks")),
    security(("bearer" = [])))]
pub async fn get_case_graph(
    caller: crate::api::Caller,
    state: actix_web::web::Data<crate::service::AppState>,
    path: actix_web::web::Path<String>,
    query: actix_web::web::Query<CaseGraphQuery>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let guard = crate::access::lock_readable(&state, &caller.0, &path).await?;
    let Some(case) = guard.as_ref() else {
        return Err(ApiError::NotFound(format!("no case `{path}`")));
    };
    let p = case.procedure().clone();
    crate::access::check(&state, &caller.0, &path, &p.meta.id).await?;
    let current = case.state().to_owned();
    let tracks: Vec<String> = case
        .track_states()
        .into_iter()
        .map(|(t, s)| format!("{t}.{s}"))
        .collect();
    drop(guard);
    let svg = if query.tracks.unwrap_or(false) {
        let marks: Vec<&str> = tracks.iter().map(String::as_str).collect();
        match fazhi_core::graph::to_state_svg_marked(&p, &current, &marks) {
            Some(svg) => svg,
            None => {
                let title = p.state(&current).map_or("", |s| s.title());
                return Err(ApiError::invalid(
                    "tracks",
                    format!(
                        "本案当前阶段“{title}”没有并行环节，请去掉`tracks=true`查看全程图（the case's current state `{current}` has no parallel tracks: drop `tracks=true` for the overview）"
                    ),
                ));
            }
        }
    } else {
        let mut marks: Vec<&str> = vec![current.as_str()];
        marks.extend(tracks.iter().map(String::as_str));
        fazhi_core::graph::to_svg_marked(&p, &marks)
    };
    Ok(actix_web::HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .body(svg))
}

//! `GET /v1/procedures/{id}/graph?state=STATE`: the picture of one state's parallel tracks,
//! as `fazhi graph ID --state STATE` draws it.

use fazhi_core::model::Procedure;

use crate::problem::ApiError;

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

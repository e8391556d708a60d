//! Reading `rules/laws.toml`: the laws rule files may cite.
//!
//! ```toml
//! [laws.713]
//! title = "重大行政决策程序暂行条例"
//! number = "国务院令第713号"
//! in_force = 2019-09-01
//! articles = 44
//!
//! [laws.xf2005]
//! title = "信访条例"
//! repealed = 2022-05-01
//! replaced_by = "xf"
//! articles = 51
//! ```

use super::tree::Table;
use chrono::NaiveDate;

use super::reader::{Cx, Lit, S, TableReader};
use crate::model::{Law, Laws};

/// Whether a file is a list of laws (its name is `laws.toml`), not a procedure.
pub(crate) fn is_laws_file(name: &str) -> bool {
    std::path::Path::new(name)
        .file_name()
        .is_some_and(|n| n == "laws.toml")
}

fn date(cx: &mut Cx<'_>, t: &mut TableReader<'_, '_>, key: &str) -> Option<NaiveDate> {
    let lit = t.opt_lit(cx, key)?;
    let parsed = match &lit.v {
        Lit::Date(s) | Lit::Str(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    };
    if parsed.is_none() {
        cx.error(
            "wrong-type",
            lit.span.clone(),
            format!("`{}.{key}` must be a date", t.path),
        )
        .help = Some(format!("write `{key} = 2022-05-01` (a TOML date)"));
    }
    parsed
}

/// Reads a list of laws into `laws`, reporting every problem.
pub(crate) fn read(
    cx: &mut Cx<'_>,
    root: &Table<'_>,
    span: std::ops::Range<usize>,
    laws: &mut Laws,
) {
    let mut top = TableReader::new(root, span, "the file");
    let Some(v) = top.value("laws") else {
        top.missing(cx, "laws", "a table `[laws.<id>]` per law");
        return;
    };
    let Some(mut all) = TableReader::of(cx, v, "laws") else {
        return;
    };
    let mut read: Vec<(S<String>, Law)> = Vec::new();
    for (id, value) in all.entries() {
        let Some(mut t) = TableReader::of(cx, value, format!("laws.{}", id.v)) else {
            continue;
        };
        let title = t.req_str(cx, "title");
        let aliases = t
            .str_list(cx, "aliases")
            .map(|l| l.v.into_iter().map(|a| a.v).collect())
            .unwrap_or_default();
        let number = t.opt_str(cx, "number").map(|s| s.v);
        let in_force = date(cx, &mut t, "in_force");
        let repealed = date(cx, &mut t, "repealed");
        let replaced_by = t.opt_str(cx, "replaced_by");
        let articles = t.opt_int(cx, "articles").and_then(|n| {
            let ok = u32::try_from(n.v).ok().filter(|a| (1..=10_000).contains(a));
            if ok.is_none() {
                cx.error(
                    "wrong-type",
                    n.span.clone(),
                    format!("`laws.{}.articles` must be a count from 1 to 10000", id.v),
                )
                .help = Some("write the number of the law's last article".into());
            }
            ok
        });
        t.finish(
            cx,
            &[
                "title",
                "aliases",
                "number",
                "in_force",
                "repealed",
                "replaced_by",
                "articles",
            ],
        );
        let Some(title) = title else { continue };
        let title = title.v.trim_matches(['《', '》']).to_owned();
        read.push((
            id.clone(),
            Law {
                id: id.v.clone(),
                title,
                aliases,
                number,
                in_force,
                repealed,
                replaced_by: replaced_by.as_ref().map(|r| r.v.clone()),
                articles,
            },
        ));
    }
    let ids: Vec<String> = read.iter().map(|(id, _)| id.v.clone()).collect();
    for (id, law) in read {
        if let Some(r) = &law.replaced_by
            && !ids.contains(r)
        {
            cx.error(
                "unknown-law",
                id.span.clone(),
                format!(
                    "`laws.{}.replaced_by` names `{r}`, which is not in this list",
                    id.v
                ),
            )
            .help = Some("add the law that replaced it, or remove `replaced_by`".into());
        }
        if !laws.insert(law) {
            cx.error(
                "duplicate-id",
                id.span.clone(),
                format!("law `{}` is listed twice", id.v),
            )
            .help = Some("keep one entry per law".into());
        }
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{TimeZone, Utc};

use super::*;
use crate::load::{SourceFile, load};
use crate::runtime::{Actor, Command, Opening};
use crate::time::Calendar;

const FILE: &str = r#"
[procedure]
id = "review"
version = 1
title = "审查"
initial = "submitted"
terminal = ["done"]
[roles]
office = { title = "司法所" }
[facts]
kind = { type = "enum", values = ["contract", "other"], required = true, title = "类别" }
[states]
submitted = { title = "已报送" }
done = { title = "已审查" }
[actions.conclude]
title = "审查"
from = "submitted"
to = "done"
by = ["office"]
[report.reviews]
title = "合法性审查"
section = "一（三） 决策"
date = { action = "conclude" }
by = "kind"
labels = { contract = "合同" }
[report.opened]
title = "收案"
section = "一（二） 收案"
date = "opened"
when = 'kind == "contract"'
"#;

fn china(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn year_boundaries_are_china_time_and_each_counter_dates_by_its_own_event() {
    let out = load(&[SourceFile::new("review.toml", FILE)]);
    assert!(
        out.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        out.diagnostics
    );
    let rules = out.rules;
    let p = rules.get("review", None).unwrap().clone();
    let cal = Calendar::default();
    let office = Actor::new("o", ["office"]);
    let case = |id: &str, kind: &str, opened, concluded: Option<DateTime<Utc>>| {
        let (mut c, _) = Case::open(
            &p,
            Opening {
                case: id.into(),
                title: id.into(),
                actor: office.clone(),
                at: opened,
                facts: serde_json::json!({ "kind": kind }),
                imported: true,
            },
        )
        .unwrap();
        if let Some(at) = concluded {
            let mut cmd = Command::new("conclude", office.clone(), at);
            cmd.imported = true;
            c.decide_apply(cmd, &cal).unwrap();
        }
        c
    };
    let cases = [
        // Opened 2020-12-31 23:30 China time (15:30 UTC, a 2020 day in UTC too), concluded 2021.
        case(
            "a",
            "contract",
            china(2020, 12, 31, 23, 30),
            Some(china(2021, 1, 4, 9, 0)),
        ),
        // 2021-01-01 00:10 China time is still 2020 in UTC: it counts in 2021.
        case(
            "b",
            "other",
            china(2021, 1, 1, 0, 10),
            Some(china(2021, 1, 1, 0, 20)),
        ),
        // Concluded 2022-01-01 00:10 China time (2021 in UTC): not 2021.
        case(
            "c",
            "contract",
            china(2021, 12, 30, 9, 0),
            Some(china(2022, 1, 1, 0, 10)),
        ),
        // Never concluded: opened counts, reviewed does not.
        case("d", "contract", china(2021, 6, 1, 9, 0), None),
    ];
    let mut tally = Tally::new(&rules, 2021);
    for c in &cases {
        tally.add(c);
    }
    let r = tally.finish();
    assert_eq!(
        r.sections[0].title, "一（二） 收案",
        "sections in the report's order"
    );
    let opened = &r.sections[0].figures[0];
    assert_eq!(
        (opened.id.as_str(), opened.total),
        ("review.opened", 2),
        "c and d"
    );
    let reviews = &r.sections[1].figures[0];
    assert_eq!(reviews.total, 2, "a and b");
    let g: Vec<(&str, &str, u64)> = reviews
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.label.as_str(), g.count))
        .collect();
    assert_eq!(g, [("contract", "合同", 1), ("other", "other", 1)]);
    assert_eq!(
        reviews.groups[0].cases,
        "/v1/cases?report=review.reviews&year=2021&group=contract"
    );
    assert!(is_behind(
        &cases[0],
        "review.reviews",
        2021,
        Some("contract")
    ));
    assert!(!is_behind(&cases[0], "review.reviews", 2021, Some("other")));
    assert!(!is_behind(&cases[2], "review.reviews", 2021, None));
    assert!(is_behind(&cases[2], "review.reviews", 2022, None));
    assert!(!is_behind(&cases[0], "review.opened", 2021, None));
    assert!(!is_behind(&cases[0], "other.reviews", 2021, None));
    let md = to_markdown(&r);
    assert!(md.contains("## 一（三） 决策"), "{md}");
    assert!(md.contains("合法性审查：共2件"), "{md}");
    let csv = to_csv(&r);
    assert!(
        csv.contains("2021,一（三） 决策,合法性审查,合同,1,"),
        "{csv}"
    );
}

#[test]
fn unknown_names_in_a_counter_are_located_errors_with_a_suggestion() {
    let bad = FILE
        .replace(
            r#"date = { action = "conclude" }"#,
            r#"date = { action = "concluded" }"#,
        )
        .replace(r#"by = "kind""#, r#"by = "kinds""#)
        .replace(
            r#"when = 'kind == "contract"'"#,
            r#"when = 'knd == "contract"'"#,
        );
    let out = load(&[SourceFile::new("review.toml", bad)]);
    let errors: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {} {:?}", d.code, d.message, d.help))
        .collect();
    let all = errors.join("\n");
    assert!(
        all.contains("unknown action `concluded`") && all.contains("`conclude`"),
        "{all}"
    );
    assert!(
        all.contains("unknown fact `kinds`") && all.contains("`kind`"),
        "{all}"
    );
    assert!(all.contains("knd"), "{all}");
    let state = FILE.replace(r#"date = "opened""#, r#"date = { state = "don" }"#);
    let out = load(&[SourceFile::new("review.toml", state)]);
    let all: Vec<String> = out
        .diagnostics
        .iter()
        .map(|d| format!("{} {:?}", d.message, d.help))
        .collect();
    assert!(
        all.iter()
            .any(|m| m.contains("`don` is not a declared state") && m.contains("done")),
        "{all:?}"
    );
    let word = FILE.replace(r#"date = "opened""#, r#"date = "openned""#);
    let out = load(&[SourceFile::new("review.toml", word)]);
    let all: Vec<String> = out
        .diagnostics
        .iter()
        .map(|d| format!("{} {:?}", d.message, d.help))
        .collect();
    assert!(
        all.iter()
            .any(|m| m.contains("openned") && m.contains("opened")),
        "{all:?}"
    );
}

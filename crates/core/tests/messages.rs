//! Messages in both languages: every refusal kind on a small procedure, its Chinese message
//! built from the titles and citing the article, its English one beside it; deadline
//! descriptions likewise; and `in_lang` choosing between them.
//!
//! Dates are worked out by hand on the 2025 calendar: the case opens on Monday 2025-09-01
//! 09:00 CST.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fazhi_core::lang::Lang;
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::Procedure;
use fazhi_core::runtime::{Actor, Case, Command, DocumentRef, Opening, Reason, ReasonKind};
use fazhi_core::time::Calendar;
use serde_json::json;

const LAB: &str = r#"
language = 1

[procedure]
id = "msg-lab"
version = 1
title = "消息实验"
title_en = "message lab"
initial = "filed"
terminal = ["closed"]

[roles]
officer = { title = "承办人员", title_en = "case officer" }
head = { title = "行政机关负责人" }

[documents]
notice = { title = "行政处罚告知书", title_en = "notice of intended penalty" }

[facts]
filed_on = { type = "date", required = true, title = "立案日期" }
serious = { type = "bool", default = false, title = "情节复杂" }

[states]
filed = { title = "立案", title_en = "filed" }
notified = { title = "已告知", title_en = "notified" }
closed = { title = "办结" }

[actions.notify]
title = "告知拟处罚"
title_en = "notify the intended penalty"
from = "filed"
to = "notified"
by = ["officer"]
documents = ["notice"]
basis = "《行政处罚法》第四十四条"

[actions.notify.payload]
amount = { type = "amount", required = true, title = "罚款数额" }

[actions.decide]
title = "作出处罚决定"
from = "notified"
to = "closed"
by = ["head"]
when = "serious"
reason_required = true
basis = "《行政处罚法》第五十七条"

[time.statement]
title = "陈述申辩期间"
at_least = { days = 3 }
after = "notify"
actions = ["decide"]
basis = "《行政处罚法》第四十五条"

[time.notify_limit]
title = "立案后告知期限"
within = { days = 10 }
after = "filed_on"
actions = ["notify"]
strict = true
basis = "《行政处罚法》第六十条"
"#;

fn procedure() -> Arc<Procedure> {
    let files = [
        SourceFile::new("laws.toml", include_str!("../../../rules/laws.toml")),
        SourceFile::new("msg-lab.toml", LAB),
    ];
    let loaded = load(&files);
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    loaded.rules.get("msg-lab", None).unwrap().clone()
}

fn calendar() -> Calendar {
    let mut c = Calendar::new();
    c.add_year(Calendar::parse_year(include_str!("../../../rules/calendars/2025.toml")).unwrap())
        .unwrap();
    c
}

fn cst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
        .unwrap()
        .with_timezone(&Utc)
}

fn officer() -> Actor {
    Actor::new("officer-1", ["officer"])
}

fn head() -> Actor {
    Actor::new("head-1", ["head"])
}

fn notice() -> DocumentRef {
    DocumentRef {
        kind: "notice".into(),
        name: "告知书.pdf".into(),
        sha256: "0123456789abcdef".repeat(4),
        uri: None,
    }
}

/// A notify that is allowed on 2025-09-02.
fn notify(at: &str) -> Command {
    Command::new("notify", officer(), cst(at))
        .with_payload(json!({ "amount": "500.00" }))
        .with_document(notice())
}

fn opened() -> Case {
    let opening = Opening {
        case: "c-1".into(),
        title: "测试".into(),
        actor: officer(),
        at: cst("2025-09-01T09:00:00"),
        facts: json!({ "filed_on": "2025-09-01" }),
        imported: false,
    };
    Case::open_recorded(&procedure(), opening).unwrap().0
}

fn notified() -> Case {
    let mut case = opened();
    case.decide_record(notify("2025-09-02T09:00:00"), &calendar())
        .unwrap();
    case
}

/// The reason of `kind` a command gets.
fn reason(case: &Case, command: Command, kind: ReasonKind) -> Reason {
    let refusal = case.decide(command, &calendar()).unwrap_err();
    refusal
        .reasons
        .into_iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} reason"))
}

struct Row {
    kind: ReasonKind,
    reason: Reason,
    /// What the Chinese message says, in order.
    zh: &'static [&'static str],
    /// What the English message says, in order.
    en: &'static [&'static str],
    /// The article cited at the end of both (none for a reason no article forbids).
    cites: Option<&'static str>,
}

fn rows() -> Vec<Row> {
    let cal = calendar();
    let _ = &cal;
    vec![
        Row {
            kind: ReasonKind::UnknownAction,
            reason: reason(
                &opened(),
                Command::new("notfy", officer(), cst("2025-09-02T09:00:00")),
                ReasonKind::UnknownAction,
            ),
            zh: &[
                "程序“消息实验”没有`notfy`这一办理事项",
                "（是否指“告知拟处罚”？）",
            ],
            en: &[
                "procedure `msg-lab` has no action `notfy`",
                "did you mean `notify`?",
            ],
            cites: None,
        },
        Row {
            kind: ReasonKind::WrongState,
            reason: reason(
                &opened(),
                Command::new("decide", head(), cst("2025-09-02T09:00:00")).with_reason("情节清楚"),
                ReasonKind::WrongState,
            ),
            zh: &["当前阶段为“立案”，“作出处罚决定”须在“已告知”阶段办理"],
            en: &["`decide` may be taken in “notified”, but the case is in “filed”"],
            cites: Some("第五十七条"),
        },
        Row {
            kind: ReasonKind::RoleNotAllowed,
            reason: reason(
                &opened(),
                Command::new("notify", head(), cst("2025-09-02T09:00:00"))
                    .with_payload(json!({ "amount": "500.00" }))
                    .with_document(notice()),
                ReasonKind::RoleNotAllowed,
            ),
            zh: &["“告知拟处罚”须由“承办人员”办理；办理人“head-1”担任的角色为“行政机关负责人”"],
            en: &[
                "“notify the intended penalty” may be taken by “case officer”; `head-1` holds `head`",
            ],
            cites: Some("第四十四条"),
        },
        Row {
            kind: ReasonKind::PayloadInvalid,
            reason: reason(
                &opened(),
                Command::new("notify", officer(), cst("2025-09-02T09:00:00"))
                    .with_document(notice()),
                ReasonKind::PayloadInvalid,
            ),
            zh: &["须填写“罚款数额”"],
            en: &["`payload.amount` is required"],
            cites: Some("第四十四条"),
        },
        Row {
            kind: ReasonKind::DocumentMissing,
            reason: reason(
                &opened(),
                Command::new("notify", officer(), cst("2025-09-02T09:00:00"))
                    .with_payload(json!({ "amount": "500.00" })),
                ReasonKind::DocumentMissing,
            ),
            zh: &["“告知拟处罚”须附“行政处罚告知书”"],
            en: &[
                "“notify the intended penalty” needs a document of kind “notice of intended penalty”",
            ],
            cites: Some("第四十四条"),
        },
        Row {
            // Filed on Mon 2025-09-01: ten days end with Thu 09-11.
            kind: ReasonKind::TooLate,
            reason: reason(
                &opened(),
                notify("2025-09-15T09:00:00"),
                ReasonKind::TooLate,
            ),
            zh: &[
                "“立案后告知期限”：自“立案日期”起10日内办理“告知拟处罚”的期限已于2025年9月11日届满",
            ],
            en: &["`notify_limit` (10 days after `filed_on`) ended at 2025-09-12 00:00 CST"],
            cites: Some("第六十条"),
        },
        Row {
            kind: ReasonKind::GuardFalse,
            reason: reason(
                &notified(),
                Command::new("decide", head(), cst("2025-09-10T09:00:00")).with_reason("情节清楚"),
                ReasonKind::GuardFalse,
            ),
            zh: &["“作出处罚决定”的办理条件不满足：「情节复杂」（「情节复杂」为否）"],
            en: &["the condition of `decide` does not hold: `serious`"],
            cites: Some("第五十七条"),
        },
        Row {
            // Notified on Tue 09-02: three days run through Fri 09-05.
            kind: ReasonKind::TooEarly,
            reason: reason(
                &notified(),
                Command::new("decide", head(), cst("2025-09-03T09:00:00")).with_reason("情节清楚"),
                ReasonKind::TooEarly,
            ),
            zh: &["“陈述申辩期间”：自“告知拟处罚”起须满3日，2025年9月6日起方可办理“作出处罚决定”"],
            en: &[
                "`statement` (3 days after “notify the intended penalty”) runs until 2025-09-06 00:00 CST",
            ],
            cites: Some("第四十五条"),
        },
        Row {
            kind: ReasonKind::ReasonMissing,
            reason: reason(
                &notified(),
                Command::new("decide", head(), cst("2025-09-10T09:00:00")),
                ReasonKind::ReasonMissing,
            ),
            zh: &["办理“作出处罚决定”须记录理由"],
            en: &["`decide` needs a recorded reason"],
            cites: Some("第五十七条"),
        },
        Row {
            kind: ReasonKind::OutOfOrder,
            reason: reason(
                &notified(),
                notify("2025-09-01T10:00:00"),
                ReasonKind::OutOfOrder,
            ),
            zh: &["办理时间2025年9月1日 10:00早于本案最后一次办理的时间2025年9月2日 09:00"],
            en: &[
                "the time 2025-09-01 10:00 CST is before the case's last event (2025-09-02 09:00 CST)",
            ],
            cites: None,
        },
    ]
}

/// The ids of the procedure: none is the text of a Chinese message (the rows above name
/// the few that are, as what the client sent or as guard code).
const IDS: [&str; 9] = [
    "msg-lab",
    "officer",
    "notice",
    "filed_on",
    "notified",
    "notify_limit",
    "statement",
    "closed",
    "amount",
];

#[test]
fn every_reason_kind_speaks_both_languages() {
    let rows = rows();
    let mut kinds: Vec<ReasonKind> = rows.iter().map(|r| r.kind).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 10, "every kind has a row");
    for row in rows {
        let r = &row.reason;
        for want in row.zh {
            assert!(
                r.message_zh.contains(want),
                "{:?}: {}",
                row.kind,
                r.message_zh
            );
        }
        for want in row.en {
            assert!(
                r.message_en.contains(want),
                "{:?}: {}",
                row.kind,
                r.message_en
            );
        }
        for id in IDS {
            assert!(
                !r.message_zh.contains(id),
                "{:?}: the id `{id}` in {}",
                row.kind,
                r.message_zh
            );
        }
        match row.cites {
            Some(article) => {
                let citation = r.citation.as_deref().unwrap();
                assert!(citation.contains(article), "{citation}");
                assert!(
                    r.message_zh.ends_with(&format!("（依据：{citation}）")),
                    "{:?}: {}",
                    row.kind,
                    r.message_zh
                );
                assert!(
                    r.message_en.ends_with(&format!(" (basis: {citation})")),
                    "{:?}: {}",
                    row.kind,
                    r.message_en
                );
            }
            None => assert!(!r.message_zh.contains("依据"), "{}", r.message_zh),
        }
        // Chinese unless asked otherwise; `in_lang` picks one.
        assert_eq!(r.message, r.message_zh);
        assert_eq!(r.text(Lang::En), r.message_en);
        assert_eq!(r.clone().in_lang(Lang::En).message, r.message_en);
        assert_eq!(r.clone().in_lang(Lang::Zh).message, r.message_zh);
    }
}

#[test]
fn a_refusal_in_english_sets_every_message() {
    let refusal = notified()
        .decide(
            Command::new("decide", officer(), cst("2025-09-03T09:00:00")),
            &calendar(),
        )
        .unwrap_err();
    assert!(refusal.reasons.len() >= 3, "{refusal:?}");
    let en = refusal.clone().in_lang(Lang::En);
    for (r, e) in refusal.reasons.iter().zip(&en.reasons) {
        assert_eq!(r.message, r.message_zh);
        assert_eq!(e.message, r.message_en);
    }
}

#[test]
fn available_actions_carry_both_messages() {
    let case = opened();
    let options = case.available_actions(&head(), cst("2025-09-02T09:00:00"), &calendar());
    let notify = options.iter().find(|o| o.id == "notify").unwrap();
    let role = notify
        .reasons
        .iter()
        .find(|r| r.kind == ReasonKind::RoleNotAllowed)
        .unwrap();
    assert!(
        role.message_zh.contains("“承办人员”"),
        "{}",
        role.message_zh
    );
    assert!(role.message_zh.ends_with("）"), "{}", role.message_zh);
    assert!(
        role.message_en.contains("“case officer”"),
        "{}",
        role.message_en
    );
}

#[test]
fn opening_without_a_required_fact_speaks_both_languages() {
    let opening = Opening {
        case: "c-2".into(),
        title: "测试".into(),
        actor: officer(),
        at: cst("2025-09-01T09:00:00"),
        facts: json!({ "serious": "yes" }),
        imported: false,
    };
    let refusal = Case::open_recorded(&procedure(), opening).unwrap_err();
    let texts: Vec<&str> = refusal
        .reasons
        .iter()
        .map(|r| r.message_zh.as_str())
        .collect();
    assert!(texts.contains(&"须填写“立案日期”"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("“情节复杂”的值无效：须为是或否")),
        "{texts:?}"
    );
    let en: Vec<&str> = refusal
        .reasons
        .iter()
        .map(|r| r.message_en.as_str())
        .collect();
    assert!(en.contains(&"`facts.filed_on` is required"), "{en:?}");
}

#[test]
fn deadlines_are_described_in_both_languages() {
    let case = notified();
    let deadlines = case.deadlines(cst("2025-09-03T09:00:00"), &calendar());
    let statement = deadlines.iter().find(|d| d.rule == "statement").unwrap();
    assert_eq!(
        statement.description_zh,
        "“陈述申辩期间”：自“告知拟处罚”起须满3日，2025年9月6日起方可办理“作出处罚决定”（期间未满）（依据：《行政处罚法》第四十五条）"
    );
    assert_eq!(statement.description, statement.description_zh);
    assert_eq!(
        statement.description_en,
        "`statement`: `decide` not before 3 days after “notify the intended penalty”, from 2025-09-06 00:00 CST (still running) (basis: 《行政处罚法》第四十五条)"
    );
    let limit = deadlines.iter().find(|d| d.rule == "notify_limit").unwrap();
    assert_eq!(
        limit.description_zh,
        "“立案后告知期限”：自“立案日期”起10日内办理“告知拟处罚”，最后一日为2025年9月11日（已按期办理）（依据：《行政处罚法》第六十条）"
    );
    let en = limit.clone().in_lang(Lang::En);
    assert_eq!(en.description, limit.description_en);
    assert!(
        en.description
            .contains("within 10 days after `filed_on`, last day 2025-09-11 (met in time)"),
        "{}",
        en.description
    );
}

#[test]
fn scenario_failures_speak_both_languages() {
    let file = fazhi_core::scenario::parse(
        r#"
procedure = "msg-lab"

[[scenarios]]
name = "告知后即决定"
[scenarios.open]
at = 2025-09-01T09:00:00
by = "officer"
facts = { filed_on = "2025-09-01" }

[[scenarios.steps]]
at = 2025-09-02T09:00:00
by = "officer"
action = "notify"
payload = { amount = "500.00" }
documents = ["notice"]
state = "closed"
"#,
    )
    .unwrap();
    let files = [
        SourceFile::new("laws.toml", include_str!("../../../rules/laws.toml")),
        SourceFile::new("msg-lab.toml", LAB),
    ];
    let rules = load(&files).rules;
    let outcomes = fazhi_core::scenario::run(&file, &rules, &calendar());
    let failure = &outcomes[0].failures[0];
    assert_eq!(failure.message_zh, "应处于“办结”阶段，实际处于“已告知”阶段");
    assert_eq!(
        failure.message_en,
        "expected state `closed`, but the case is in `notified`"
    );
    assert_eq!(failure.message, failure.message_zh);
    assert_eq!(failure.text(Lang::En), failure.message_en);
    assert_eq!(
        failure.clone().in_lang(Lang::En).message,
        failure.message_en
    );
}

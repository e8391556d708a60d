//! A refusal cites the article that forbids: a named condition's, an invariant's, a time
//! rule's, a document's or a role's, and the action's own only where nothing narrower
//! exists; each reason carries the law and the article as fields.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::Procedure;
use fazhi_core::runtime::{Actor, Case, Command, DocumentRef, Opening, Reason, ReasonKind};
use fazhi_core::time::Calendar;

const LAWS: &str = r#"
[laws.apl]
title = "中华人民共和国行政处罚法"
in_force = 2021-07-15
articles = 86
"#;

const PENALTY: &str = r#"
[procedure]
id = "penalty"
version = 1
title = "行政处罚（测试）"
initial = "investigating"
terminal = ["decided", "dropped"]
basis = "《行政处罚法》第五十四条"

[roles]
officer = { title = "执法人员", basis = "《行政处罚法》第四十二条" }
head = { title = "行政机关负责人", basis = "《行政处罚法》第五十七条第一款" }

[documents]
decision = { title = "行政处罚决定书", basis = "《行政处罚法》第五十九条" }

[facts]
reviewed = { type = "bool", default = false, title = "已经法制审核" }

[states]
investigating = { title = "调查取证" }
notified = { title = "已告知" }
decided = { title = "已决定" }
dropped = { title = "不予处罚" }

[actions.notify]
title = "告知拟处罚内容"
from = "investigating"
to = "notified"
by = ["officer"]
basis = "《行政处罚法》第四十四条"

[actions.review]
title = "法制审核"
from = "notified"
by = ["officer"]
sets = { reviewed = "true" }
basis = "第五十八条第一款"

[actions.decide]
title = "作出处罚决定"
from = "notified"
to = "decided"
by = ["head"]
documents = ["decision"]
basis = "apl §57.1.1"

[actions.decide.when]
reviewed = { if = "reviewed", title = "已经法制审核", basis = "《行政处罚法》第五十八条第一款第二项" }
heard = { if = "taken(review)", title = "已复核陈述申辩" }

[actions.drop]
title = "不予处罚"
from = ["investigating", "notified"]
to = "dropped"
by = ["head"]
reason_required = true
basis = "《行政处罚法》第五十七条第一款第二项"

[time.defence_period]
title = "告知后给予陈述申辩的时间"
at_least = { days = 3 }
after = "notify"
actions = ["decide"]
basis = "《行政处罚法》第四十五条"

[invariants.notice_before_decision]
title = "未告知的，不得作出处罚决定"
first = "notify"
then = "decided"
basis = "《行政处罚法》第六十二条"
"#;

fn procedure() -> Arc<Procedure> {
    let loaded = load(&[
        SourceFile::new("laws.toml", LAWS),
        SourceFile::new("penalty.toml", PENALTY),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    loaded.rules.get("penalty", None).unwrap().clone()
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0).unwrap()
}

fn open() -> Case {
    Case::open_recorded(
        &procedure(),
        Opening {
            case: "c".into(),
            title: "某案".into(),
            actor: Actor::new("o", ["officer"]),
            at: at(3, 1),
            facts: serde_json::json!({}),
            imported: false,
        },
    )
    .unwrap()
    .0
}

fn decision() -> DocumentRef {
    DocumentRef {
        kind: "decision".into(),
        name: "决定书.pdf".into(),
        sha256: "a".repeat(64),
        uri: None,
    }
}

fn refuse(case: &Case, command: Command) -> Vec<Reason> {
    case.decide(command, &Calendar::new()).unwrap_err().reasons
}

fn one(reasons: &[Reason], kind: ReasonKind) -> &Reason {
    let found: Vec<&Reason> = reasons.iter().filter(|r| r.kind == kind).collect();
    assert_eq!(found.len(), 1, "{kind:?} in {reasons:#?}");
    found[0]
}

#[test]
fn a_step_taken_before_what_must_come_first_cites_the_invariant() {
    let case = open();
    let head = Actor::new("h", ["head"]);
    let reasons = refuse(
        &case,
        Command::new("decide", head, at(10, 1)).with_document(decision()),
    );
    let r = one(&reasons, ReasonKind::WrongState);
    // Not the action's own Art. 57: the invariant's Art. 62 forbids deciding before notice.
    assert_eq!(r.basis.as_deref(), Some("《行政处罚法》第六十二条"));
    assert_eq!((r.law.as_deref(), r.article), (Some("apl"), Some(62)));
    assert_eq!(r.invariant.as_deref(), Some("notice_before_decision"));
    assert_eq!(r.citation.as_deref(), Some("《行政处罚法》第六十二条"));
}

#[test]
fn a_wrong_state_with_nothing_narrower_cites_the_action() {
    let mut case = open();
    let officer = Actor::new("o", ["officer"]);
    let head = Actor::new("h", ["head"]);
    case.decide_record(
        Command::new("notify", officer.clone(), at(3, 2)),
        &Calendar::new(),
    )
    .unwrap();
    // `notify` again: only the action's own article speaks to it.
    let reasons = refuse(&case, Command::new("notify", officer, at(3, 3)));
    let r = one(&reasons, ReasonKind::WrongState);
    assert_eq!((r.law.as_deref(), r.article), (Some("apl"), Some(44)));
    assert_eq!(r.invariant, None);
    // After the notice, deciding in the wrong state no longer cites the invariant.
    case.decide_record(
        Command::new("drop", head.clone(), at(3, 4)).with_reason("违法事实不能成立"),
        &Calendar::new(),
    )
    .unwrap();
    let reasons = refuse(
        &case,
        Command::new("decide", head, at(10, 1)).with_document(decision()),
    );
    let r = one(&reasons, ReasonKind::WrongState);
    assert_eq!(
        (r.article, r.paragraph, r.item),
        (Some(57), Some(1), Some(1))
    );
    assert_eq!(r.invariant, None);
}

#[test]
fn each_named_condition_refuses_on_its_own_with_its_own_article() {
    let mut case = open();
    let officer = Actor::new("o", ["officer"]);
    let head = Actor::new("h", ["head"]);
    case.decide_record(Command::new("notify", officer, at(3, 2)), &Calendar::new())
        .unwrap();
    let reasons = refuse(
        &case,
        Command::new("decide", head.clone(), at(10, 1)).with_document(decision()),
    );
    assert_eq!(
        reasons.iter().map(|r| r.kind).collect::<Vec<_>>(),
        vec![ReasonKind::GuardFalse, ReasonKind::GuardFalse]
    );
    let reviewed = reasons
        .iter()
        .find(|r| r.condition.as_deref() == Some("reviewed"))
        .unwrap();
    assert_eq!(
        (
            reviewed.law.as_deref(),
            reviewed.article,
            reviewed.paragraph,
            reviewed.item
        ),
        (Some("apl"), Some(58), Some(1), Some(2))
    );
    assert_eq!(
        reviewed.citation.as_deref(),
        Some("《行政处罚法》第五十八条第一款第二项")
    );
    assert!(
        reviewed.message.contains("已经法制审核"),
        "{}",
        reviewed.message
    );
    assert_eq!(reviewed.failed[0].expression, "reviewed");
    // A condition without a basis of its own falls back to the action's (the short form).
    let heard = reasons
        .iter()
        .find(|r| r.condition.as_deref() == Some("heard"))
        .unwrap();
    assert_eq!(heard.basis.as_deref(), Some("apl §57.1.1"));
    assert_eq!(
        (heard.article, heard.paragraph, heard.item),
        (Some(57), Some(1), Some(1))
    );
    // The same reasons when asking what is possible.
    let options = case.available_actions(&head, at(10, 1), &Calendar::new());
    let decide = options.iter().find(|o| o.id == "decide").unwrap();
    let conditions: Vec<_> = decide
        .reasons
        .iter()
        .map(|r| (r.condition.clone(), r.article))
        .collect();
    assert_eq!(
        conditions,
        vec![
            (Some("reviewed".to_owned()), Some(58)),
            (Some("heard".to_owned()), Some(57))
        ]
    );
}

#[test]
fn roles_documents_time_rules_and_reasons_cite_their_own_articles() {
    let mut case = open();
    let officer = Actor::new("o", ["officer"]);
    let head = Actor::new("h", ["head"]);
    let cal = Calendar::new();
    case.decide_record(Command::new("notify", officer.clone(), at(3, 2)), &cal)
        .unwrap();
    case.decide_record(Command::new("review", officer.clone(), at(3, 3)), &cal)
        .unwrap();
    // Too early, without the decision document, by the wrong role.
    let reasons = refuse(&case, Command::new("decide", officer, at(4, 1)));
    let role = one(&reasons, ReasonKind::RoleNotAllowed);
    assert_eq!((role.article, role.paragraph), (Some(57), Some(1)));
    assert_eq!(
        role.basis.as_deref(),
        Some("《行政处罚法》第五十七条第一款")
    );
    let doc = one(&reasons, ReasonKind::DocumentMissing);
    assert_eq!(doc.article, Some(59));
    let early = one(&reasons, ReasonKind::TooEarly);
    assert_eq!(early.article, Some(45));
    assert_eq!(early.rule.as_deref(), Some("defence_period"));
    // A missing reason has nothing narrower than the action.
    let reasons = refuse(&case, Command::new("drop", head, at(10, 1)));
    let r = one(&reasons, ReasonKind::ReasonMissing);
    assert_eq!(
        (r.article, r.paragraph, r.item),
        (Some(57), Some(1), Some(2))
    );
    // Out of order is not a legal refusal: it cites nothing.
    let reasons = refuse(
        &case,
        Command::new("drop", Actor::new("h", ["head"]), at(3, 1)).with_reason("x"),
    );
    let r = one(&reasons, ReasonKind::OutOfOrder);
    assert_eq!((r.basis.as_deref(), r.law.as_deref()), (None, None));
}

#[test]
fn a_relative_article_takes_the_procedures_own_law() {
    let p = procedure();
    let review = p.action("review").unwrap();
    let c = &review.citations()[0];
    assert_eq!(
        (c.law.as_str(), c.article, c.paragraph),
        ("apl", 58, Some(1))
    );
    assert_eq!(c.readable(), "《行政处罚法》第五十八条第一款");
}

#[test]
fn a_broken_condition_is_reported_at_its_own_string() {
    let text = PENALTY.replace(
        r#"heard = { if = "taken(review)""#,
        r#"heard = { if = "taken(reveiw)""#,
    );
    let loaded = load(&[SourceFile::new("penalty.toml", text.clone())]);
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "unknown-action" || d.code == "unknown-name")
        .unwrap_or_else(|| panic!("{:#?}", loaded.diagnostics));
    let line = text.lines().nth(d.line - 1).unwrap();
    assert!(line.starts_with("heard = "), "{line}");
    // The column points at the misspelt name inside the condition's string.
    let col: String = line.chars().skip(d.column - 1).take(6).collect();
    assert_eq!(col, "reveiw");
    assert!(loaded.rules.is_empty());
}

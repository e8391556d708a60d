//! The Chinese titles of enum values (`labels`): a refusal prints the title of the value a
//! guard read (English keeps the id), for a fact and for a payload field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::Procedure;
use fazhi_core::runtime::{Actor, Case, Command, Opening, ReasonKind};
use fazhi_core::time::Calendar;
use serde_json::json;

const LAB: &str = r#"
language = 1

[procedure]
id = "labels-lab"
version = 1
title = "取值标题实验"
initial = "received"
terminal = ["closed"]

[roles]
officer = { title = "承办人员" }

[facts]
applicant_kind = { type = "enum", values = ["natural_person", "legal_person", "other_organisation"], labels = { natural_person = "公民", legal_person = "法人" }, required = true, title = "申请人类型" }
urgent = { type = "bool", default = false, title = "情况紧急" }

[states]
received = { title = "已收到" }
closed = { title = "办结" }

[actions.close_for_organisations]
title = "按组织申请办结"
from = "received"
to = "closed"
by = ["officer"]
when = 'applicant_kind != "natural_person"'

[actions.close_by_form]
title = "按形式办结"
from = "received"
to = "closed"
by = ["officer"]
when = 'payload.form == "electronic"'

[actions.close_urgently]
title = "紧急办结"
from = "received"
to = "closed"
by = ["officer"]
when = "urgent"

[actions.extend]
title = "延长答复期限"
from = "received"
to = "received"
by = ["officer"]

[actions.extend.when]
before_expiry = { if = "!late(reply_limit)", title = "在答复期限届满前延长" }

[time.reply_limit]
title = "自收到申请之日起15日内答复"
within = { days = 15 }
after = ["received"]
actions = ["close_for_organisations"]

[actions.close_by_form.payload]
form = { type = "enum", values = ["as_requested", "electronic"], labels = { as_requested = "按申请人要求的形式", electronic = "电子数据" }, required = true, title = "提供形式" }
"#;

fn procedure() -> Arc<Procedure> {
    let loaded = load(&[SourceFile::new("labels-lab.toml", LAB)]);
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    loaded.rules.get("labels-lab", None).unwrap().clone()
}

fn cst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
        .unwrap()
        .with_timezone(&Utc)
}

fn officer() -> Actor {
    Actor::new("officer-1", ["officer"])
}

fn opened(kind: &str) -> Case {
    let opening = Opening {
        case: "c-1".into(),
        title: "测试".into(),
        actor: officer(),
        at: cst("2025-09-01T09:00:00"),
        facts: json!({ "applicant_kind": kind }),
        imported: false,
    };
    Case::open_recorded(&procedure(), opening).unwrap().0
}

fn guard_message(case: &Case, command: Command) -> (String, String) {
    let refusal = case.decide(command, &Calendar::new()).unwrap_err();
    let r = refusal
        .reasons
        .into_iter()
        .find(|r| r.kind == ReasonKind::GuardFalse)
        .expect("a guard reason");
    (r.message_zh, r.message_en)
}

#[test]
fn a_refusal_prints_the_title_of_a_facts_value() {
    let case = opened("natural_person");
    let (zh, en) = guard_message(
        &case,
        Command::new(
            "close_for_organisations",
            officer(),
            cst("2025-09-02T09:00:00"),
        ),
    );
    assert!(
        zh.contains("「申请人类型」不为“公民”（「申请人类型」为“公民”）"),
        "{zh}"
    );
    assert!(
        !zh.contains("natural_person") && !zh.contains("applicant_kind"),
        "{zh}"
    );
    assert!(en.contains("natural_person"), "{en}");
}

#[test]
fn a_refusal_prints_the_title_of_a_payload_value() {
    let case = opened("legal_person");
    let (zh, _) = guard_message(
        &case,
        Command::new("close_by_form", officer(), cst("2025-09-02T09:00:00"))
            .with_payload(json!({ "form": "as_requested" })),
    );
    assert!(
        zh.contains("「提供形式」为“电子数据”（「提供形式」为“按申请人要求的形式”）"),
        "{zh}"
    );
    assert!(
        !zh.contains("payload.") && !zh.contains("as_requested"),
        "{zh}"
    );
}

#[test]
fn a_value_without_a_label_is_shown_as_its_id() {
    let p = procedure();
    let f = p.fact("applicant_kind").unwrap();
    assert_eq!(f.value_title("natural_person"), Some("公民"));
    assert_eq!(f.value_title("other_organisation"), None);
    let form = &p
        .actions()
        .find(|a| a.id() == "close_by_form")
        .unwrap()
        .payload()[0];
    assert_eq!(form.value_title("electronic"), Some("电子数据"));
}

#[test]
fn the_diagram_words_a_guard_with_the_values_titles() {
    let svg = fazhi_core::graph::to_svg(&procedure());
    assert!(svg.contains("“公民”"), "{svg}");
    assert!(svg.contains("“电子数据”"), "{svg}");
    assert!(!svg.contains("“natural_person”"), "{svg}");
}

/// A guard is written in words, never as its code: a yes-or-no fact as 是/否, a time rule's
/// `late(…)` as its title and 已逾期/未逾期.
#[test]
fn a_refusal_words_the_guard_not_its_code() {
    let case = opened("legal_person");
    let (zh, en) = guard_message(
        &case,
        Command::new("close_urgently", officer(), cst("2025-09-02T09:00:00")),
    );
    assert!(
        zh.contains("不满足：「情况紧急」（「情况紧急」为否）"),
        "{zh}"
    );
    assert!(en.contains("`urgent`"), "{en}");
    let (zh, _) = guard_message(
        &case,
        Command::new("extend", officer(), cst("2025-10-20T09:00:00")),
    );
    assert!(
        zh.contains("“在答复期限届满前延长”不满足：「自收到申请之日起15日内答复」未逾期"),
        "{zh}"
    );
    assert!(!zh.contains("late(") && !zh.contains("reply_limit"), "{zh}");
}

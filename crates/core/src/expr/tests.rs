//! Unit tests of the whole pipeline: checking, evaluation, explain, canonical text and
//! satisfiability, over a small fixed environment.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn strings(v: &[&str]) -> Arc<[String]> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn outcome_ty() -> Type {
    Type::Enum(strings(&["approve", "reject", "defer"]))
}

fn env() -> Env {
    let mut vars = BTreeMap::new();
    let mut var = |name: &str, slot, ty| {
        vars.insert(name.to_owned(), VarInfo { slot, ty });
    };
    var("urgent", VarSlot::Fact(0), Type::Bool);
    var("count", VarSlot::Fact(1), Type::Integer);
    var("fine", VarSlot::Fact(2), Type::Amount);
    var("name", VarSlot::Fact(3), Type::Text);
    var("filed", VarSlot::Fact(4), Type::Date);
    var("outcome", VarSlot::Fact(5), outcome_ty());
    var("technical", VarSlot::Fact(6), Type::Bool);
    var("kind", VarSlot::Fact(7), Type::Enum(strings(&["a", "b"])));
    var("payload.reason", VarSlot::Payload(0), Type::Text);
    var("payload.outcome", VarSlot::Payload(1), outcome_ty());
    let mut tracks = BTreeMap::new();
    tracks.insert(
        "participation".to_owned(),
        TrackInfo {
            index: 0,
            states: strings(&["pending", "open", "closed"]),
        },
    );
    tracks.insert(
        "review".to_owned(),
        TrackInfo {
            index: 1,
            states: strings(&["drafting", "final"]),
        },
    );
    let documents = BTreeMap::from([
        ("hearing_record".to_owned(), 0),
        ("decision_letter".to_owned(), 1),
    ]);
    let actions = Ids::from([
        ("open_consultation".to_owned(), 0),
        ("close_case".to_owned(), 1),
    ]);
    Env {
        vars,
        tracks,
        actions,
        documents,
        states: Ids::from([("closed".to_owned(), 0)]),
        time_rules: BTreeMap::new(),
        time_functions: false,
    }
}

/// urgent = true, count = 5, fine = 3000.50, name = "张三", filed = 2025-10-08,
/// outcome = reject, payload.reason = "逾期"; technical, kind, payload.outcome unset.
/// participation is open; review is inactive. hearing_record attached; decision_letter on
/// file; open_consultation taken.
struct Ctx {
    vars: HashMap<VarSlot, Value>,
}

fn ctx() -> Ctx {
    let vars = HashMap::from([
        (VarSlot::Fact(0), Value::Bool(true)),
        (VarSlot::Fact(1), Value::Integer(5)),
        (VarSlot::Fact(2), Value::Amount(Decimal::new(300050, 2))),
        (VarSlot::Fact(3), Value::Text(Arc::from("张三"))),
        (
            VarSlot::Fact(4),
            Value::Date(NaiveDate::from_ymd_opt(2025, 10, 8).unwrap()),
        ),
        (VarSlot::Fact(5), Value::Enum(1)),
        (VarSlot::Payload(0), Value::Text(Arc::from("逾期"))),
    ]);
    Ctx { vars }
}

impl EvalContext for Ctx {
    fn var(&self, slot: VarSlot) -> Option<&Value> {
        self.vars.get(&slot)
    }
    fn track_state(&self, track: usize) -> Option<usize> {
        (track == 0).then_some(1)
    }
    fn track_done(&self, track: usize) -> bool {
        track == 1
    }
    fn attached(&self, document: usize) -> bool {
        document == 0
    }
    fn on_file(&self, document: usize) -> bool {
        document <= 1
    }
    fn taken(&self, action: usize) -> bool {
        action == 0
    }
}

fn guard(src: &str) -> Expr {
    compile(src, &env(), &Type::Bool).unwrap_or_else(|e| panic!("{src}: {e:?}"))
}

fn errors(src: &str) -> Vec<(&'static str, usize, usize)> {
    compile(src, &env(), &Type::Bool)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.code, e.span.start, e.span.end))
        .collect()
}

fn first_error(src: &str) -> ExprError {
    compile(src, &env(), &Type::Bool)
        .unwrap_err()
        .into_iter()
        .next()
        .unwrap()
}

#[test]
fn every_error_is_collected() {
    assert_eq!(
        errors("urgnet && cout > 1 && outcome == \"aprove\""),
        vec![
            (codes::UNKNOWN_NAME, 0, 6),
            (codes::UNKNOWN_NAME, 10, 14),
            (codes::UNKNOWN_VALUE, 33, 41)
        ]
    );
    assert_eq!(
        errors("count && name < \"x\""),
        vec![(codes::NOT_BOOL, 0, 5), (codes::NOT_ORDERED, 9, 19)]
    );
}

#[test]
fn help_suggests_the_closest_name() {
    let e = first_error("urgnet");
    assert_eq!(e.message, "unknown name `urgnet`");
    assert_eq!(e.help.as_deref(), Some("did you mean `urgent`?"));
    let e = first_error("zzzzzzzz");
    assert!(
        e.help
            .unwrap()
            .starts_with("known facts, payload fields and tracks: `count`")
    );
    let e = first_error("outcome == \"rejcet\"");
    assert_eq!(e.help.as_deref(), Some("did you mean \"reject\"?"));
    let e = first_error("participation == \"clsoed\"");
    assert_eq!(e.help.as_deref(), Some("did you mean \"closed\"?"));
    let e = first_error("dnoe(participation)");
    assert_eq!(e.help.as_deref(), Some("did you mean `done`?"));
    let e = first_error("done(urgent)");
    assert_eq!(e.message, "`urgent` is a fact, but `done` takes a track");
    let e = first_error("done(partcipation)");
    assert_eq!(
        (e.code, e.help.as_deref()),
        (codes::UNKNOWN_NAME, Some("did you mean `participation`?"))
    );
    let e = first_error("hearing_record");
    assert_eq!(
        e.help.as_deref(),
        Some("ask `attached(hearing_record)` or `on_file(hearing_record)`")
    );
}

#[test]
fn value_expressions_take_the_expected_type() {
    let env = env();
    let e = compile("\"defer\"", &env, &outcome_ty()).unwrap();
    assert_eq!(e.eval(&ctx()), Some(Value::Enum(2)));
    assert_eq!(e.ty(), &outcome_ty());
    let e = compile("payload.reason", &env, &Type::Text).unwrap();
    assert_eq!(e.eval(&ctx()), Some(Value::Text(Arc::from("逾期"))));
    let e = compile("payload.outcome", &env, &outcome_ty()).unwrap();
    assert_eq!(e.eval(&ctx()), None);
    let e = compile("200", &env, &Type::Amount).unwrap();
    assert_eq!(e.eval(&ctx()), Some(Value::Amount(Decimal::new(200, 0))));
    let e = compile("\"2025-01-02\"", &env, &Type::Date).unwrap();
    assert_eq!(
        e.eval(&ctx()),
        Some(Value::Date(NaiveDate::from_ymd_opt(2025, 1, 2).unwrap()))
    );
    let errs = compile("\"maybe\"", &env, &outcome_ty()).unwrap_err();
    assert_eq!(errs.first().map(|e| e.code), Some(codes::UNKNOWN_VALUE));
    let errs = compile("count", &env, &Type::Text).unwrap_err();
    assert_eq!(errs.first().map(|e| e.code), Some(codes::UNEXPECTED_TYPE));
    let errs = compile("3", &env, &Type::Bool).unwrap_err();
    assert_eq!(errs.first().map(|e| e.code), Some(codes::UNEXPECTED_TYPE));
    assert!(compile("true", &env, &Type::Bool).is_ok());
}

#[test]
fn evaluation_is_three_valued() {
    let c = ctx();
    assert_eq!(guard("technical").eval(&c), None);
    assert_eq!(guard("!technical").eval(&c), None);
    assert_eq!(
        guard("technical && false").eval(&c),
        Some(Value::Bool(false))
    );
    assert_eq!(guard("technical || true").eval(&c), Some(Value::Bool(true)));
    assert_eq!(guard("technical && true").eval(&c), None);
    assert_eq!(
        guard("is_set(technical)").eval(&c),
        Some(Value::Bool(false))
    );
    assert!(!guard("technical || !technical").holds(&c));
    assert!(guard("review != \"final\" || !active(review)").holds(&c));
}

#[test]
fn explain_descends_into_conjunctions() {
    let c = ctx();
    assert!(guard("urgent && count == 5").explain(&c).is_empty());
    let f = guard(
        "urgent && (count > 10) && technical && (outcome == \"approve\" || done(participation))",
    )
    .explain(&c);
    assert_eq!(
        f,
        vec![
            Falsity {
                expression: "(count > 10)".into(),
                span: Span::new(10, 22),
                values: vec![("count".into(), Some("5".into()))],
                unknown: false,
            },
            Falsity {
                expression: "technical".into(),
                span: Span::new(26, 35),
                values: vec![("technical".into(), None)],
                unknown: true,
            },
            Falsity {
                expression: "(outcome == \"approve\" || done(participation))".into(),
                span: Span::new(39, 84),
                values: vec![
                    ("outcome".into(), Some("reject".into())),
                    ("participation".into(), Some("open".into()))
                ],
                unknown: false,
            },
        ]
    );
    let f = guard("name == \"李四\" && filed < \"2025-01-01\" && fine >= 5000").explain(&c);
    let rendered: Vec<_> = f.iter().map(|f| f.values.clone()).collect();
    assert_eq!(
        rendered,
        vec![
            vec![("name".into(), Some("\"张三\"".into()))],
            vec![("filed".into(), Some("2025-10-08".into()))],
            vec![("fine".into(), Some("3000.50".into()))],
        ]
    );
}

#[test]
fn canonical_text() {
    assert_eq!(
        guard(" ( urgent&&( technical&&count>1 ) ) ").canonical(),
        "urgent && technical && count > 1"
    );
    assert_eq!(
        guard("\"approve\" == outcome").canonical(),
        "outcome == \"approve\""
    );
    assert_eq!(guard("3 < count").canonical(), "count > 3");
    assert_eq!(guard("!(count > 3)").canonical(), "!(count > 3)");
    assert_eq!(guard("!count > 3").canonical(), "!(count > 3)");
    assert_eq!(
        guard("(urgent || technical) && !!urgent").canonical(),
        "(urgent || technical) && !!urgent"
    );
    assert_eq!(
        guard("urgent || (technical || urgent && technical)").canonical(),
        "urgent || technical || urgent && technical"
    );
    assert_eq!(guard("fine > 3000.50").canonical(), "fine > 3000.5");
    assert_eq!(guard("fine > 200").canonical(), "fine > 200");
    assert_eq!(
        guard("outcome in [\"approve\", \"defer\"]").canonical(),
        "outcome in [\"approve\", \"defer\"]"
    );
    assert_eq!(
        guard("name == \"a\\\"b\"").canonical(),
        "name == \"a\\\"b\""
    );
    assert_eq!(
        guard("filed<\"2025-01-01\"&&done( review )").canonical(),
        "filed < \"2025-01-01\" && done(review)"
    );
    assert_eq!(
        guard("(urgent) && (count > 1 && attached(hearing_record))").conjuncts(),
        vec!["urgent", "count > 1", "attached(hearing_record)"]
    );
    assert_eq!(
        guard("urgent || technical").conjuncts(),
        vec!["urgent || technical"]
    );
}

#[test]
fn canonical_text_reparses_to_itself() {
    for src in [
        "!(urgent == true) && (technical || !is_set(count))",
        "(!urgent) == technical",
        "participation in [\"open\", \"closed\"] || taken(open_consultation) && !on_file(decision_letter)",
        "!!!(urgent || technical)",
    ] {
        let once = guard(src).canonical();
        assert_eq!(guard(&once).canonical(), once, "{src}");
    }
}

#[test]
fn references_are_distinct_and_in_order() {
    assert_eq!(
        guard("count > 1 && is_set(payload.reason) && count < 9 && done(participation) && attached(hearing_record)")
            .references(),
        vec!["count", "payload.reason", "participation"]
    );
}

#[test]
fn satisfiability() {
    let s = |src: &str| guard(src).satisfiability();
    assert_eq!(s("kind == \"a\" && kind == \"b\""), Satisfiability::Never);
    assert_eq!(s("urgent && !urgent"), Satisfiability::Never);
    assert_eq!(s("count > 3 && !(3 < count)"), Satisfiability::Never);
    assert_eq!(
        s("!is_set(outcome) && outcome == \"approve\""),
        Satisfiability::Never
    );
    assert_eq!(
        s("!active(participation) && participation == \"open\""),
        Satisfiability::Never
    );
    assert_eq!(s("!done(review) && !active(review)"), Satisfiability::Never);
    assert_eq!(
        s("outcome in [\"approve\"] && outcome != \"approve\""),
        Satisfiability::Never
    );
    assert_eq!(s("false"), Satisfiability::Never);
    assert_eq!(s("urgent && technical"), Satisfiability::Satisfiable);
    assert_eq!(
        s("done(review) && active(review)"),
        Satisfiability::Satisfiable
    );
    assert_eq!(s("!is_set(urgent)"), Satisfiability::Satisfiable);
    // Integer ranges: the constants cut the integers into regions.
    assert_eq!(s("count > 3 && count < 2"), Satisfiability::Never);
    assert_eq!(s("count >= 1000 && count <= 100"), Satisfiability::Never);
    assert_eq!(s("1000 <= count && 100 >= count"), Satisfiability::Never);
    assert_eq!(s("count == 5 && count != 5"), Satisfiability::Never);
    assert_eq!(s("count > 3 && count < 5"), Satisfiability::Satisfiable);
    assert_eq!(s("count >= 3 && count <= 3"), Satisfiability::Satisfiable);
    assert_eq!(
        s("(count < 1 || count > 9) && count >= 1 && count <= 9"),
        Satisfiability::Never
    );
    assert_eq!(
        s("outcome == payload.outcome && outcome == \"defer\""),
        Satisfiability::Satisfiable
    );
    assert_eq!(
        s("outcome == payload.outcome && outcome == \"defer\" && payload.outcome != \"defer\""),
        Satisfiability::Never
    );
    // 17 free atoms: 131,072 combinations, over the limit.
    let many: Vec<String> = (0..17).map(|i| format!("fine > {i}")).collect();
    assert_eq!(s(&many.join(" && ")), Satisfiability::Unknown);
    let env = env();
    assert_eq!(
        compile("count", &env, &Type::Integer)
            .unwrap()
            .satisfiability(),
        Satisfiability::Unknown
    );
}

#[test]
fn a_state_where_an_action_is_meant_is_named_as_a_state() {
    let env = env();
    let errors = compile("taken(closed)", &env, &Type::Bool).unwrap_err();
    assert_eq!(errors[0].code, codes::WRONG_NAMESPACE);
    assert!(
        errors[0].message.contains("`closed` is a state"),
        "{}",
        errors[0].message
    );
    let errors = compile("closed", &env, &Type::Bool).unwrap_err();
    assert!(
        errors[0].message.contains("`closed` is a state"),
        "{}",
        errors[0].message
    );
}

#[test]
fn always_true() {
    let t = |src: &str| guard(src).always_true();
    assert!(t("true"));
    assert!(t("!is_set(urgent) || is_set(urgent)"));
    assert!(t("count > 3 || count <= 3 || !is_set(count)"));
    assert!(t("!is_set(kind) || !(kind == \"a\" && kind == \"b\")"));
    // An unset fact makes these unknown, so they are not always true.
    assert!(!t("urgent || !urgent"));
    assert!(!t("!(kind == \"a\" && kind == \"b\")"));
    assert!(!t("count > 3 || count <= 3"));
    assert!(!t("urgent"));
    assert!(!t("false"));
}

#[test]
fn satisfiability_of_a_huge_guard_is_bounded() {
    // 80,000 comparisons, of one atom and of distinct atoms: the analysis gives up (or
    // answers) without enumerating 65,536 combinations of 80,000 nodes, and without a
    // quadratic search for atoms.
    let same = vec!["count > 1"; 80_000].join(" && ");
    assert_eq!(guard(&same).satisfiability(), Satisfiability::Satisfiable);
    let distinct: Vec<String> = (0..80_000).map(|i| format!("count > {i}")).collect();
    assert_eq!(
        guard(&distinct.join(" || ")).satisfiability(),
        Satisfiability::Unknown
    );
    let few: Vec<String> = (0..80_000).map(|i| format!("fine > {}", i % 15)).collect();
    assert_eq!(
        guard(&few.join(" && ")).satisfiability(),
        Satisfiability::Unknown
    );
}

#[test]
fn evaluation_reads_through_a_dyn_context() {
    let c = ctx();
    let dynamic: &dyn EvalContext = &c;
    assert!(guard("participation == \"open\" && attached(hearing_record)").holds(dynamic));
}

proptest! {
    #[test]
    fn compile_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let src = String::from_utf8_lossy(&bytes);
        check_spans(&src);
    }

    #[test]
    fn compile_never_panics_on_guard_like_text(
        src in r#"[a-z_.()!&|=<> \[\],"0-9\\-]{0,48}|(urgent|count|outcome|participation|done\(|is_set\(|"approve"|"open"|&&|\|\||!|==|<|\(|\)|in \[|\]| |1|2\.5){0,12}"#
    ) {
        check_spans(&src);
    }
}

fn check_spans(src: &str) {
    let env = env();
    if let Err(errors) = compile(src, &env, &Type::Bool) {
        assert!(!errors.is_empty());
        for e in errors {
            assert!(
                e.span.start <= e.span.end && e.span.end <= src.len(),
                "{src:?}: {e:?}"
            );
            assert!(
                src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end),
                "{src:?}: {e:?}"
            );
        }
    }
}

/// Titles for `describe`: facts by slot, tracks and their states, documents, actions.
fn title(name: Name) -> Option<String> {
    Some(
        match name {
            Name::Var(VarSlot::Fact(0)) => "情况紧急",
            Name::Var(VarSlot::Fact(1)) => "人数",
            Name::Var(VarSlot::Fact(5)) => "审查结论",
            Name::Var(VarSlot::Fact(6)) => "专业性较强",
            Name::Var(VarSlot::Payload(0)) => "理由",
            Name::Track(0) => "公众参与",
            Name::TrackState(0, 2) => "意见已采纳",
            Name::Document(0) => "听证笔录",
            Name::Action(0) => "公开征求意见",
            _ => return None,
        }
        .to_owned(),
    )
}

#[test]
fn describe_writes_titles_and_words_not_code() {
    let cases = [
        ("urgent", "「情况紧急」"),
        ("!urgent", "「情况紧急」为否"),
        ("urgent == false", "「情况紧急」为否"),
        ("urgent && !technical", "「情况紧急」，且「专业性较强」为否"),
        (
            "(urgent || technical) && count >= 3",
            "（「情况紧急」，或「专业性较强」），且「人数」 ≥ 3",
        ),
        ("!(count < 3)", "「人数」 ≥ 3"),
        (
            "outcome in [\"approve\", \"defer\"]",
            "「审查结论」为“approve”或“defer”",
        ),
        (
            "participation == \"closed\"",
            "「公众参与」为「意见已采纳」",
        ),
        ("done(participation)", "「公众参与」已完成"),
        ("!attached(hearing_record)", "未附「听证笔录」"),
        ("taken(open_consultation)", "已「公开征求意见」"),
        ("payload.reason == \"逾期\"", "「理由」为“逾期”"),
        // A name without a title is written as it is.
        ("kind == \"a\"", "「kind」为“a”"),
    ];
    for (source, words) in cases {
        let e = compile(source, &env(), &Type::Bool).unwrap();
        assert_eq!(e.describe(&title), words, "{source}");
    }
}

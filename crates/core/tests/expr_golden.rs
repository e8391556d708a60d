//! Golden tests of the guard language: `tests/data/expr_golden.txt`, one case per line.
//! The file's header describes the format, the environment and the context built here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use fazhi_core::expr::{
    Env, EvalContext, Ids, Satisfiability, TrackInfo, Type, Value, VarInfo, VarSlot, compile,
};
use rust_decimal::Decimal;

fn strings(v: &[&str]) -> Arc<[String]> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn env() -> Env {
    let mut vars = BTreeMap::new();
    let facts = [
        ("urgent", Type::Bool),
        ("count", Type::Integer),
        ("fine", Type::Amount),
        ("name", Type::Text),
        ("filed", Type::Date),
        (
            "outcome",
            Type::Enum(strings(&["approve", "reject", "defer"])),
        ),
        ("加急", Type::Bool),
        ("technical", Type::Bool),
        ("kind", Type::Enum(strings(&["a", "b"]))),
        ("deadline", Type::Date),
    ];
    for (i, (name, ty)) in facts.into_iter().enumerate() {
        vars.insert(
            name.to_owned(),
            VarInfo {
                slot: VarSlot::Fact(i),
                ty,
            },
        );
    }
    vars.insert(
        "payload.reason".to_owned(),
        VarInfo {
            slot: VarSlot::Payload(0),
            ty: Type::Text,
        },
    );
    vars.insert(
        "payload.amount".to_owned(),
        VarInfo {
            slot: VarSlot::Payload(1),
            ty: Type::Amount,
        },
    );
    let tracks = BTreeMap::from([
        (
            "participation".to_owned(),
            TrackInfo {
                index: 0,
                states: strings(&["pending", "open", "closed"]),
            },
        ),
        (
            "review".to_owned(),
            TrackInfo {
                index: 1,
                states: strings(&["drafting", "final"]),
            },
        ),
    ]);
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
        time_rules: BTreeMap::new(),
        time_functions: false,
        ..Env::default()
    }
}

struct Ctx {
    vars: HashMap<VarSlot, Value>,
}

impl EvalContext for Ctx {
    fn var(&self, slot: VarSlot) -> Option<&Value> {
        self.vars.get(&slot)
    }
    fn track_state(&self, track: usize) -> Option<usize> {
        // participation is open; review is inactive.
        (track == 0).then_some(1)
    }
    fn track_done(&self, track: usize) -> bool {
        track == 1
    }
    fn attached(&self, document: usize) -> bool {
        document == 0
    }
    fn on_file(&self, document: usize) -> bool {
        document == 0 || document == 1
    }
    fn taken(&self, action: usize) -> bool {
        action == 0
    }
}

#[expect(clippy::unwrap_used, reason = "a fixed, valid date")]
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
        (VarSlot::Fact(6), Value::Bool(true)),
        (VarSlot::Payload(0), Value::Text(Arc::from("逾期"))),
    ]);
    Ctx { vars }
}

/// Runs one case; returns a description of the failure, if any.
fn run(src: &str, expected: &str, env: &Env, ctx: &Ctx) -> Option<String> {
    let compiled = compile(src, env, &Type::Bool);
    if let Some(rest) = expected.strip_prefix("error ") {
        let errors = match compiled {
            Ok(_) => return Some("compiled, but an error was expected".into()),
            Err(errors) => errors,
        };
        let first = errors.first()?;
        let actual = format!("{} {}..{}", first.code, first.span.start, first.span.end);
        return (actual != rest).then(|| format!("first error is `{actual}` ({})", first.message));
    }
    let expr = match compiled {
        Ok(expr) => expr,
        Err(errors) => return Some(format!("did not compile: {errors:?}")),
    };
    let sat = expr.satisfiability();
    let actual = match expected {
        "never" => {
            return (sat != Satisfiability::Never).then(|| format!("satisfiability is {sat:?}"));
        }
        "true" | "false" | "unknown" => match expr.eval(ctx) {
            Some(Value::Bool(true)) => "true",
            Some(Value::Bool(false)) => "false",
            None => "unknown",
            Some(other) => return Some(format!("evaluated to a non-bool {other:?}")),
        },
        other => return Some(format!("bad expectation `{other}`")),
    };
    if actual != expected {
        return Some(format!("evaluated to {actual}"));
    }
    if actual == "true" && sat == Satisfiability::Never {
        return Some("holds, yet satisfiability says never".into());
    }
    if (actual == "true") != expr.holds(ctx) {
        return Some("holds() disagrees with eval()".into());
    }
    if expr.holds(ctx) != expr.explain(ctx).is_empty() {
        return Some("explain() disagrees with holds()".into());
    }
    None
}

#[test]
fn golden() {
    let data = include_str!("data/expr_golden.txt");
    let (env, ctx) = (env(), ctx());
    let mut failures = Vec::new();
    let mut cases = 0;
    for (n, line) in data.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((src, expected)) = line.rsplit_once('\t') else {
            failures.push(format!("line {}: no tab in `{line}`", n + 1));
            continue;
        };
        cases += 1;
        if let Some(why) = run(src, expected.trim(), &env, &ctx) {
            failures.push(format!(
                "line {}: `{src}` expected {expected}: {why}",
                n + 1
            ));
        }
    }
    assert!(cases >= 80, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

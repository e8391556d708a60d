//! Conversions of [`Value`]s: to and from JSON, and rendering for people.

use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::types::{Type, Value};

/// Parses a date written exactly `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn describe(json: &Json) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("`{b}`"),
        Json::Number(n) => format!("the number `{n}`"),
        Json::String(s) => format!("the string \"{s}\""),
        Json::Array(_) => "an array".into(),
        Json::Object(_) => "an object".into(),
    }
}

fn enum_values(ty: &Type) -> Option<&[String]> {
    match ty {
        Type::Enum(values) | Type::TrackState(_, values) => Some(values),
        _ => None,
    }
}

impl Value {
    /// Reads a value of type `ty` from JSON: a bool; a whole number within 64 bits; an amount
    /// as a JSON number or a decimal string, kept exact; text; a `"YYYY-MM-DD"` date; an enum
    /// value (or track state) by its name. The error says what was expected and what was found.
    pub fn from_json(ty: &Type, json: &Json) -> Result<Value, String> {
        let wrong = || format!("expected {}, found {}", expected(ty), describe(json));
        match (ty, json) {
            (Type::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Integer, Json::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    return Ok(Value::Integer(i));
                }
                if n.is_u64() {
                    return Err(format!(
                        "expected an integer, found `{n}`, which is too large"
                    ));
                }
                match Decimal::from_str_exact(&n.to_string())
                    .or_else(|_| Decimal::from_scientific(&n.to_string()))
                {
                    Ok(d) if d.fract().is_zero() => {
                        i64::try_from(d).map(Value::Integer).map_err(|_| {
                            format!("expected an integer, found `{n}`, which is too large")
                        })
                    }
                    _ => Err(format!("expected a whole number, found `{n}`")),
                }
            }
            (Type::Amount, Json::Number(n)) => {
                let text = n.to_string();
                Decimal::from_str_exact(&text)
                    .or_else(|_| Decimal::from_scientific(&text))
                    .map(Value::Amount)
                    .map_err(|_| {
                        format!(
                            "expected an amount, found `{n}`, which cannot be represented exactly"
                        )
                    })
            }
            (Type::Amount, Json::String(s)) => Decimal::from_str_exact(s.trim())
                .map(Value::Amount)
                .map_err(|_| {
                    format!("expected an amount such as \"3000.50\", found the string \"{s}\"")
                }),
            (Type::Text, Json::String(s)) => Ok(Value::Text(Arc::from(s.as_str()))),
            (Type::Date, Json::String(s)) => parse_date(s).map(Value::Date).ok_or_else(|| {
                format!("expected a date written YYYY-MM-DD, found the string \"{s}\"")
            }),
            (Type::Enum(values) | Type::TrackState(_, values), Json::String(s)) => values
                .iter()
                .position(|v| v == s)
                .and_then(|i| u16::try_from(i).ok())
                .map(Value::Enum)
                .ok_or_else(|| format!("expected {}, found \"{s}\"", expected(ty))),
            _ => Err(wrong()),
        }
    }

    /// Writes the value as JSON for a slot of type `ty`: amounts as exact decimal strings,
    /// dates as `"YYYY-MM-DD"`, enum values by name.
    pub fn to_json(&self, ty: &Type) -> Json {
        match self {
            Value::Bool(b) => Json::Bool(*b),
            Value::Integer(i) => Json::from(*i),
            Value::Amount(d) => Json::String(d.to_string()),
            Value::Text(t) => Json::String(t.to_string()),
            Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
            Value::Enum(_) => Json::String(self.render(ty)),
        }
    }

    /// The value as people read it: enum values and track states by name, dates
    /// `2025-10-08`, amounts as decimals, text in double quotes.
    pub fn render(&self, ty: &Type) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Integer(i) => i.to_string(),
            Value::Amount(d) => d.to_string(),
            Value::Text(t) => format!("\"{t}\""),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Enum(i) => enum_values(ty)
                .and_then(|vs| vs.get(usize::from(*i)))
                .cloned()
                .unwrap_or_else(|| format!("#{i}")),
        }
    }
}

fn expected(ty: &Type) -> String {
    match ty {
        Type::Bool => "`true` or `false`".into(),
        Type::Integer => "an integer".into(),
        Type::Amount => "an amount (a number or a decimal string)".into(),
        Type::Text => "a string".into(),
        Type::Date => "a date written YYYY-MM-DD".into(),
        Type::Enum(values) | Type::TrackState(_, values) => {
            let names: Vec<&str> = values.iter().map(String::as_str).collect();
            format!("one of {}", super::fuzzy::list(&names))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome() -> Type {
        Type::Enum(Arc::from(vec!["approve".to_owned(), "reject".to_owned()]))
    }

    #[test]
    fn dates_must_be_exact() {
        assert_eq!(
            parse_date("2025-10-08"),
            NaiveDate::from_ymd_opt(2025, 10, 8)
        );
        assert_eq!(parse_date("2025-1-08"), None);
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(parse_date("2025/10/08"), None);
        assert_eq!(parse_date("+202-10-08"), None);
    }

    #[test]
    fn from_json_accepts_each_type() {
        assert_eq!(
            Value::from_json(&Type::Bool, &json!(true)),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            Value::from_json(&Type::Integer, &json!(-7)),
            Ok(Value::Integer(-7))
        );
        assert_eq!(
            Value::from_json(&Type::Integer, &json!(7.0)),
            Ok(Value::Integer(7))
        );
        assert_eq!(
            Value::from_json(&Type::Amount, &json!(3000.5)),
            Ok(Value::Amount(Decimal::new(30005, 1)))
        );
        assert_eq!(
            Value::from_json(&Type::Amount, &json!(200)),
            Ok(Value::Amount(Decimal::new(200, 0)))
        );
        assert_eq!(
            Value::from_json(&Type::Amount, &json!("0.10")),
            Ok(Value::Amount(Decimal::new(10, 2)))
        );
        assert_eq!(
            Value::from_json(&Type::Text, &json!("听证")),
            Ok(Value::Text(Arc::from("听证")))
        );
        assert_eq!(
            Value::from_json(&Type::Date, &json!("2025-10-08")),
            Ok(Value::Date(NaiveDate::from_ymd_opt(2025, 10, 8).unwrap()))
        );
        assert_eq!(
            Value::from_json(&outcome(), &json!("reject")),
            Ok(Value::Enum(1))
        );
    }

    #[test]
    fn from_json_errors_say_expected_and_found() {
        assert_eq!(
            Value::from_json(&Type::Bool, &json!("yes")),
            Err("expected `true` or `false`, found the string \"yes\"".to_owned())
        );
        assert_eq!(
            Value::from_json(&Type::Integer, &json!(1.5)),
            Err("expected a whole number, found `1.5`".to_owned())
        );
        assert!(
            Value::from_json(&Type::Integer, &json!(u64::MAX))
                .unwrap_err()
                .contains("too large")
        );
        assert!(Value::from_json(&Type::Amount, &json!("abc")).is_err());
        assert!(Value::from_json(&Type::Date, &json!("2025-13-01")).is_err());
        assert_eq!(
            Value::from_json(&outcome(), &json!("defer")),
            Err("expected one of `approve`, `reject`, found \"defer\"".to_owned())
        );
        assert!(
            Value::from_json(&Type::Text, &json!(null))
                .unwrap_err()
                .contains("null")
        );
    }

    #[test]
    fn json_round_trips() {
        let cases = [
            (Type::Bool, json!(false)),
            (Type::Integer, json!(42)),
            (Type::Amount, json!("3000.50")),
            (Type::Text, json!("x \"y\"")),
            (Type::Date, json!("2024-02-29")),
            (outcome(), json!("approve")),
        ];
        for (ty, j) in cases {
            let v = Value::from_json(&ty, &j).unwrap();
            assert_eq!(v.to_json(&ty), j, "{ty}");
        }
    }

    #[test]
    fn render_for_people() {
        assert_eq!(Value::Enum(1).render(&outcome()), "reject");
        assert_eq!(Value::Enum(9).render(&outcome()), "#9");
        assert_eq!(Value::Text(Arc::from("a")).render(&Type::Text), "\"a\"");
        assert_eq!(
            Value::Amount(Decimal::new(300050, 2)).render(&Type::Amount),
            "3000.50"
        );
        assert_eq!(
            Value::Date(NaiveDate::from_ymd_opt(2025, 1, 2).unwrap()).render(&Type::Date),
            "2025-01-02"
        );
    }
}

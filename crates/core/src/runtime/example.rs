//! Ready request bodies: for each action an actor may take now, a body that the case would
//! accept now, with example payload values and placeholder documents, for a client to fill in
//! (a form's first draft) or a test to send as it is.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::case::Case;
use super::command::{Actor, Command, DocumentRef, empty_object};
use super::decide::ActionOption;
use super::refusal::ReasonKind;
use crate::expr::Type;
use crate::time::{Calendar, cst_date};

/// The SHA-256 of an empty file: the digest an example's placeholder documents carry.
pub const PLACEHOLDER_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The reason an example records when the action asks for one.
pub const PLACEHOLDER_REASON: &str = "示例理由（请填写实际理由）";

/// A request body for taking an action that the case accepts now, as far as the core can
/// tell: the shape of `POST /v1/cases/{id}/events` (`action`, `payload`, `documents`,
/// `reason`, `expected_seq`). The payload's values are examples and the documents
/// placeholders (named `<kind>.pdf`, with the SHA-256 of an empty file): a client replaces
/// them with the real ones before sending.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionExample {
    /// The action's id.
    pub action: String,
    /// Example payload values, one per field the example gives (each of its declared type).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
    /// A placeholder for each document the action needs with this payload.
    pub documents: Vec<DocumentRef>,
    /// A placeholder reason, when the action asks for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The case's `seq` now.
    pub expected_seq: u64,
}

/// How many payloads are tried per action: every field with the first value of its type,
/// every field with the last, the required fields only.
const VARIANTS: usize = 3;

/// How many times a refused try is completed (a document or a reason it asked for added).
const COMPLETIONS: usize = 3;

impl Case {
    /// For each action of `options` ([`Case::available_actions`] for `actor` at `at`) that is
    /// allowed, an example request body that [`Case::decide`] accepts at `at`; an action for
    /// which none of the few payloads tried is accepted (a guard on a payload value an example
    /// cannot guess) has none. In the procedure's order of actions. Bounded: at most nine
    /// decisions per allowed action.
    pub fn action_examples(
        &self,
        options: &[ActionOption],
        actor: &Actor,
        at: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Vec<ActionExample> {
        options
            .iter()
            .filter(|o| o.allowed)
            .filter_map(|o| self.example_of(o, actor, at, calendar))
            .collect()
    }

    fn example_of(
        &self,
        option: &ActionOption,
        actor: &Actor,
        at: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Option<ActionExample> {
        let (_, action) = self.procedure.find_action(&option.id)?;
        let today = cst_date(at).to_string();
        for variant in 0..VARIANTS {
            let mut payload = serde_json::Map::new();
            for f in &action.payload {
                if variant == 2 && !f.required {
                    continue;
                }
                payload.insert(
                    f.meta.id.clone(),
                    example_value(&f.ty, variant == 1, &today),
                );
            }
            let mut documents: Vec<DocumentRef> =
                option.documents.iter().map(|k| placeholder(k)).collect();
            let mut reason = option
                .reason_required
                .then(|| PLACEHOLDER_REASON.to_owned());
            for _ in 0..COMPLETIONS {
                let command = Command {
                    action: option.id.clone(),
                    actor: actor.clone(),
                    at,
                    payload: serde_json::Value::Object(payload.clone()),
                    documents: documents.clone(),
                    reason: reason.clone(),
                    imported: false,
                };
                let refusal = match self.decide(command, calendar) {
                    Ok(_) => {
                        return Some(ActionExample {
                            action: option.id.clone(),
                            payload: serde_json::Value::Object(payload),
                            documents,
                            reason,
                            expected_seq: self.seq(),
                        });
                    }
                    Err(refusal) => refusal,
                };
                // What can be completed: a document or a reason asked for. Anything else
                // (a guard on a value) takes the next payload.
                let mut completed = false;
                for r in &refusal.reasons {
                    match (r.kind, &r.document) {
                        (ReasonKind::DocumentMissing, Some(kind))
                            if self.procedure.document_index(kind).is_some()
                                && !documents.iter().any(|d| &d.kind == kind) =>
                        {
                            documents.push(placeholder(kind));
                            completed = true;
                        }
                        (ReasonKind::ReasonMissing, _) if reason.is_none() => {
                            reason = Some(PLACEHOLDER_REASON.to_owned());
                            completed = true;
                        }
                        _ => {}
                    }
                }
                if !completed {
                    break;
                }
            }
        }
        None
    }
}

/// A placeholder document of `kind`.
fn placeholder(kind: &str) -> DocumentRef {
    DocumentRef {
        kind: kind.to_owned(),
        name: format!("{kind}.pdf"),
        sha256: PLACEHOLDER_SHA256.to_owned(),
        uri: None,
    }
}

/// An example value of a type: `true` (or `false`), 1, `"1.00"`, a text, the day of `at`,
/// the first (or last) of the values.
fn example_value(ty: &Type, other: bool, today: &str) -> serde_json::Value {
    match ty {
        Type::Bool => serde_json::Value::Bool(!other),
        Type::Integer => serde_json::json!(1),
        Type::Amount => serde_json::json!("1.00"),
        Type::Text => serde_json::json!("示例"),
        Type::Date => serde_json::json!(today),
        Type::Enum(values) | Type::TrackState(_, values) => {
            let v = if other { values.last() } else { values.first() };
            v.map_or_else(empty_object, |v| serde_json::json!(v))
        }
    }
}

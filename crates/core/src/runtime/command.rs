//! What callers send: who acts, when, with which payload and documents.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who takes an action: an actor id and the roles the actor holds.
///
/// Both are shared (`Arc`): cloning an actor, as every command and event of the same person
/// does, copies no text. The JSON form is plain: `{"id": "…", "roles": ["…"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The actor's id (a person or a unit).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: Arc<str>,
    /// The roles the actor holds, by the ids of the procedure's `[roles]`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub roles: Arc<[String]>,
}

impl Actor {
    /// An actor with roles.
    pub fn new(
        id: impl Into<Arc<str>>,
        roles: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Actor {
            id: id.into(),
            roles: roles.into_iter().map(Into::into).collect(),
        }
    }
}

/// A document attached to a command: its kind, file name and SHA-256 digest (64 lowercase
/// hex digits), and where it can be fetched, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    /// The document kind, by the ids of the procedure's `[documents]`.
    pub kind: String,
    /// The file name.
    pub name: String,
    /// The SHA-256 digest of the file, 64 lowercase hex digits.
    pub sha256: String,
    /// Where the file is kept, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// A request to take an action on a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// The action's id.
    pub action: String,
    /// Who takes it.
    pub actor: Actor,
    /// When (the caller's clock: the core reads none).
    pub at: DateTime<Utc>,
    /// The payload: a JSON object whose fields follow the action's payload schema.
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
    /// Documents attached.
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
    /// A recorded reason, for rules that ask for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether this records an act that happened on paper before (its time was given by an
    /// importer, not stamped by the service).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

impl Command {
    /// A command with no payload, documents or reason.
    pub fn new(action: impl Into<String>, actor: Actor, at: DateTime<Utc>) -> Self {
        Command {
            action: action.into(),
            actor,
            at,
            payload: empty_object(),
            documents: Vec::new(),
            reason: None,
            imported: false,
        }
    }

    /// The same command with a payload.
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }

    /// The same command with a document attached.
    pub fn with_document(mut self, document: DocumentRef) -> Self {
        self.documents.push(document);
        self
    }

    /// The same command with a reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// A request to open a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The case's id, chosen by the caller (the service uses UUID v7).
    pub case: String,
    /// A title for people.
    #[serde(default)]
    pub title: String,
    /// Who opens it.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// The initial facts, by fact id.
    #[serde(default = "empty_object")]
    pub facts: serde_json::Value,
    /// Whether the case began on paper and its time was given by an importer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

pub(crate) fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

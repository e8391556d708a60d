//! `fazhi.toml`: who may call the service. Each `[[principals]]` table maps the SHA-256 of a
//! bearer token (never the token itself) to an actor id and roles.
//!
//! ```toml
//! [[principals]]
//! id = "sponsor"
//! roles = ["sponsor"]
//! token_sha256 = "…64 hex digits…"
//! importer = false   # optional: may send `at` to import acts that happened on paper
//! admin = false      # optional: the operator; may migrate cases (`POST /v1/cases/{id}/migrate`)
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use fazhi_core::runtime::{Actor, Hash256, sha256_hex};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{file}: {message}")]
    Parse {
        /// The file name.
        file: String,
        /// What is wrong, with line and column when TOML says.
        message: String,
    },
    /// A principal's data is wrong.
    #[error("{file}: principal `{id}`: {message}")]
    Principal {
        /// The file name.
        file: String,
        /// The principal's id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    principals: Vec<RawPrincipal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    id: String,
    roles: Vec<String>,
    token_sha256: String,
    #[serde(default)]
    importer: bool,
    #[serde(default)]
    admin: bool,
}

/// A caller the service knows: an actor id, the roles it holds, and whether it may import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The actor id recorded in events.
    pub id: String,
    /// The roles it holds, by the ids of the procedures' `[roles]`.
    pub roles: Vec<String>,
    /// Whether it may give `at` (acts that happened on paper before).
    pub importer: bool,
    /// Whether it is an operator of the service (`admin = true`): it may move a case onto a
    /// newer version of its procedure (`POST /v1/cases/{id}/migrate`).
    pub admin: bool,
    /// Whether its token is the development token `dev-<id>`.
    pub development: bool,
    /// The actor it acts as (its id and roles, shared by every command it sends).
    pub actor: Actor,
}

/// Every principal, by the SHA-256 of its token.
#[derive(Debug, Clone, Default)]
pub struct Principals {
    by_hash: HashMap<String, Arc<Principal>>,
}

impl Principals {
    /// Reads `fazhi.toml` text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Principals, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        let mut by_hash = HashMap::new();
        let mut ids = std::collections::HashSet::new();
        for p in raw.principals {
            let err = |message: String| ConfigError::Principal {
                file: file.to_owned(),
                id: p.id.clone(),
                message,
            };
            if p.id.is_empty() {
                return Err(err("the id is empty".into()));
            }
            if !ids.insert(p.id.clone()) {
                return Err(err("the id is used twice".into()));
            }
            let hash = p.token_sha256.to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    "`token_sha256` must be 64 hex digits: the SHA-256 of the token (`printf %s TOKEN | sha256sum`)".into(),
                ));
            }
            let development = hash == sha256_hex(format!("dev-{}", p.id).as_bytes());
            let principal = Arc::new(Principal {
                id: p.id.clone(),
                roles: p.roles.clone(),
                importer: p.importer,
                admin: p.admin,
                development,
                actor: Actor::new(p.id.as_str(), p.roles.iter().cloned()),
            });
            if by_hash.insert(hash, principal).is_some() {
                return Err(err("another principal has the same token".into()));
            }
        }
        Ok(Principals { by_hash })
    }

    /// The principal whose token this is.
    pub fn authenticate(&self, token: &str) -> Option<&Arc<Principal>> {
        self.by_hash.get(Hash256::of(token.as_bytes()).as_str())
    }

    /// The principals that use development tokens (`dev-<id>`).
    pub fn development(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .by_hash
            .values()
            .filter(|p| p.development)
            .map(|p| p.id.as_str())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Every principal, by id.
    pub fn all(&self) -> Vec<&Principal> {
        let mut all: Vec<&Principal> = self.by_hash.values().map(AsRef::as_ref).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// How many principals there are.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_principals_and_flags_development_tokens() {
        let text = format!(
            "[[principals]]\nid = \"town\"\nroles = [\"town\"]\ntoken_sha256 = \"{}\"\n\n[[principals]]\nid = \"old\"\nroles = []\ntoken_sha256 = \"{}\"\nimporter = true\n",
            sha256_hex(b"dev-town"),
            sha256_hex(b"secret")
        );
        let p = Principals::parse("fazhi.toml", &text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.authenticate("dev-town").unwrap().roles, ["town"]);
        assert!(p.authenticate("secret").unwrap().importer);
        assert!(p.authenticate("nope").is_none());
        assert_eq!(p.development(), ["town"]);
    }

    #[test]
    fn refuses_bad_hashes_unknown_fields_and_duplicates() {
        let bad = "[[principals]]\nid = \"a\"\nroles = []\ntoken_sha256 = \"xyz\"\n";
        assert!(
            Principals::parse("f", bad)
                .unwrap_err()
                .to_string()
                .contains("64 hex digits")
        );
        let unknown = "[[principals]]\nid = \"a\"\nrole = []\ntoken_sha256 = \"xyz\"\n";
        assert!(Principals::parse("f", unknown).is_err());
        let h = sha256_hex(b"t");
        let dup = format!(
            "[[principals]]\nid = \"a\"\nroles = []\ntoken_sha256 = \"{h}\"\n[[principals]]\nid = \"b\"\nroles = []\ntoken_sha256 = \"{h}\"\n"
        );
        assert!(
            Principals::parse("f", &dup)
                .unwrap_err()
                .to_string()
                .contains("same token")
        );
    }
}

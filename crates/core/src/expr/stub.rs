// TEMPORARY stub until the expr branch lands. Not committed.
#![allow(missing_docs, dead_code, unused)]
use super::*;
use std::sync::Arc;
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}
#[derive(Debug, Clone)]
pub struct Expr {
    src: Arc<str>,
    ty: Type,
}
#[derive(Debug, Clone)]
pub struct ExprError {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub span: Span,
}
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Falsity {
    pub expression: String,
    pub span: Span,
    pub values: Vec<(String, Option<String>)>,
    pub unknown: bool,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Satisfiability {
    Satisfiable,
    Never,
    Unknown,
}
pub fn compile(source: &str, env: &Env, expected: &Type) -> Result<Expr, Vec<ExprError>> {
    Ok(Expr {
        src: source.into(),
        ty: expected.clone(),
    })
}
impl Expr {
    pub fn source(&self) -> &str {
        &self.src
    }
    pub fn ty(&self) -> &Type {
        &self.ty
    }
    pub fn eval<C: EvalContext + ?Sized>(&self, ctx: &C) -> Option<Value> {
        None
    }
    pub fn holds<C: EvalContext + ?Sized>(&self, ctx: &C) -> bool {
        true
    }
    pub fn explain<C: EvalContext + ?Sized>(&self, ctx: &C) -> Vec<Falsity> {
        vec![]
    }
    pub fn conjuncts(&self) -> Vec<String> {
        vec![self.src.to_string()]
    }
    pub fn canonical(&self) -> String {
        self.src.to_string()
    }
    pub fn satisfiability(&self) -> Satisfiability {
        Satisfiability::Unknown
    }
    pub fn references(&self) -> Vec<String> {
        vec![]
    }
}
impl Value {
    pub fn from_json(ty: &Type, json: &serde_json::Value) -> Result<Value, String> {
        Err("stub".into())
    }
    pub fn to_json(&self, ty: &Type) -> serde_json::Value {
        serde_json::Value::Null
    }
    pub fn render(&self, ty: &Type) -> String {
        String::new()
    }
}

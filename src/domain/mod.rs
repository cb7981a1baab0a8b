//! Domain rules: the shapes of accounts, sellers and products, and what makes them valid.
//!
//! **No I/O here**: nothing in `domain` imports axum, redis or tungstenite. Services load and
//! store these types through the engine; the REST layer turns [`FieldErrors`] into
//! `application/problem+json`.

use std::collections::BTreeMap;

pub mod account;
pub mod fair;
pub mod inquiry;
pub mod openapi;
pub mod product;
pub mod seller;
pub mod show;

/// Validation failures, field by field (`field` → message), in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    /// Records the first problem of a field; later ones for the same field are dropped.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// Cleans a required free-text field and checks its length in characters.
pub(crate) fn required_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    let cleaned = crate::vn::clean_text(value);
    if cleaned.is_empty() {
        errors.add(field, "must not be empty");
    } else if cleaned.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    cleaned
}

/// Cleans an optional free-text field (absent becomes empty) and checks its length.
pub(crate) fn optional_text(errors: &mut FieldErrors, field: &str, value: Option<&str>, max: usize) -> String {
    let cleaned = value.map(crate::vn::clean_text).unwrap_or_default();
    if cleaned.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    cleaned
}

/// Long texts (stories) keep their paragraphs: only control and invisible characters go.
pub(crate) fn long_text(errors: &mut FieldErrors, field: &str, value: Option<&str>, max: usize) -> String {
    let cleaned: String = value
        .unwrap_or_default()
        .split('\n')
        .map(crate::vn::clean_text)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned();
    if cleaned.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    cleaned
}

/// Normalises an optional Vietnamese mobile number.
pub(crate) fn optional_phone(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    match crate::vn::normalize_phone(value) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.add(field, e.to_string());
            None
        }
    }
}

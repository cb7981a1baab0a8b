//! Accounts: who signs in, with which role, and the buyer's delivery contact.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FieldErrors, optional_phone, required_text};
use crate::auth::{Role, User};

/// A stored account. The password hash never leaves the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub seller_id: Option<Uuid>,
    #[serde(default)]
    pub delivery: Option<DeliveryContact>,
    pub created_at: String,
}

impl Account {
    /// The account as clients see it.
    pub fn user(&self) -> User {
        User {
            id: self.id,
            name: self.name.clone(),
            role: self.role,
            email: Some(self.email.clone()),
            phone: self.phone.clone(),
            seller_id: self.seller_id,
        }
    }
}

/// Where a buyer's orders go; payment is on delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryContact {
    /// Recipient's name.
    #[schema(schema_with = super::openapi::text::<80>)]
    pub name: String,
    /// Vietnamese mobile number, normalised to 10 digits.
    #[schema(schema_with = super::openapi::phone)]
    pub phone: String,
    #[schema(schema_with = super::openapi::text::<300>)]
    pub address: String,
}

impl DeliveryContact {
    /// Validates and normalises a contact given by a client.
    pub fn parse(input: &DeliveryContact) -> Result<DeliveryContact, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = required_text(&mut errors, "name", &input.name, 80);
        let address = required_text(&mut errors, "address", &input.address, 300);
        let phone = optional_phone(&mut errors, "phone", Some(&input.phone));
        if phone.is_none() && !errors.0.contains_key("phone") {
            errors.add("phone", "must not be empty");
        }
        errors.into_result()?;
        Ok(DeliveryContact { name, phone: phone.unwrap_or_default(), address })
    }
}

/// What `POST /api/auth/register` and `POST /api/admin/users` ask for, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    pub email: String,
    pub password: String,
    pub role: Role,
    pub phone: Option<String>,
}

/// Password length bounds: long enough to resist guessing, short enough to hash cheaply.
const PASSWORD_MIN: usize = 8;
const PASSWORD_MAX: usize = 128;

impl NewAccount {
    /// Validates every field; `allowed` lists the roles this caller may create.
    pub fn parse(
        name: &str,
        email: &str,
        password: &str,
        role: Role,
        phone: Option<&str>,
        allowed: &[Role],
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = required_text(&mut errors, "name", name, 80);
        let email = match normalize_email(email) {
            Some(e) => e,
            None => {
                errors.add("email", "must be an e-mail address like lan@example.vn");
                String::new()
            }
        };
        let length = password.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&length) {
            errors.add("password", format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"));
        }
        if !allowed.contains(&role) {
            let names: Vec<&str> = allowed.iter().map(|r| role_name(*r)).collect();
            errors.add("role", format!("must be one of: {}", names.join(", ")));
        }
        let phone = optional_phone(&mut errors, "phone", phone);
        errors.into_result()?;
        Ok(Self { name, email, password: password.to_owned(), role, phone })
    }
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Guest => "guest",
        Role::Buyer => "buyer",
        Role::Seller => "seller",
        Role::Organiser => "organiser",
        Role::Admin => "admin",
    }
}

/// Lower-cases and checks the shape of an e-mail address (one `@`, a dotted domain, no spaces).
pub fn normalize_email(input: &str) -> Option<String> {
    let email = input.trim().to_lowercase();
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
        return None;
    }
    Some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for (input, want) in [
            ("Lan@Example.VN", Some("lan@example.vn")),
            ("  hoa.nguyen+ocop@mail.com ", Some("hoa.nguyen+ocop@mail.com")),
            ("no-at-sign", None),
            ("a@b", None),
            ("a@@b.vn", None),
            ("a b@c.vn", None),
            ("@c.vn", None),
            ("a@.vn", None),
            ("a@c..vn", None),
        ] {
            assert_eq!(normalize_email(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn new_account_reports_every_bad_field() {
        let err =
            NewAccount::parse(" ", "x", "short", Role::Admin, Some("123"), &[Role::Buyer, Role::Seller]).unwrap_err();
        let fields: Vec<&str> = err.0.keys().map(String::as_str).collect();
        assert_eq!(fields, vec!["email", "name", "password", "phone", "role"]);
    }

    #[test]
    fn new_account_normalises() {
        let a = NewAccount::parse(
            " Nguyễn  Văn A ",
            "A@Ocop.VN",
            "mật khẩu dài",
            Role::Seller,
            Some("091 234 5678"),
            &[Role::Buyer, Role::Seller],
        )
        .unwrap();
        assert_eq!(a.name, "Nguyễn Văn A");
        assert_eq!(a.email, "a@ocop.vn");
        assert_eq!(a.phone.as_deref(), Some("0912345678"));
    }
}

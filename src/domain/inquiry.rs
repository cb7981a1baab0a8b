//! Supply–demand inquiries ("kết nối cung cầu"): a wholesale buyer asks a booth for a quote,
//! the seller quotes, the buyer accepts or either side declines.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::fair::parse_time;
use super::{FieldErrors, long_text, required_text};
use crate::clock::format_rfc3339;

/// The largest quantity an inquiry or a quote names, and the largest price (VND).
pub const MAX_QUANTITY: i64 = 1_000_000_000;
pub const MAX_PRICE: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InquiryStatus {
    #[default]
    Open,
    Quoted,
    Accepted,
    Declined,
}

impl InquiryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InquiryStatus::Open => "open",
            InquiryStatus::Quoted => "quoted",
            InquiryStatus::Accepted => "accepted",
            InquiryStatus::Declined => "declined",
        }
    }
}

/// The seller's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    /// VND per unit.
    pub price: i64,
    pub quantity: i64,
    /// RFC 3339 UTC with milliseconds.
    pub valid_until: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Inquiry {
    pub id: Uuid,
    pub fair_id: Uuid,
    pub booth_id: Uuid,
    pub buyer_id: Uuid,
    pub buyer_name: String,
    pub seller_id: Uuid,
    pub seller_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Uuid>,
    pub quantity: i64,
    #[schema(example = "thùng 24 hũ")]
    pub unit: String,
    /// VND per unit the buyer hopes for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_price: Option<i64>,
    /// The date (in Vietnam) the goods are wanted by.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::product::iso_date::optional")]
    #[schema(value_type = Option<String>, format = Date, example = "2027-01-15")]
    pub deliver_by: Option<Date>,
    pub message: String,
    pub status: InquiryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// How the seller reaches the buyer: given once the buyer accepts the quote, not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_contact: Option<BuyerContact>,
    pub created_at: String,
    pub updated_at: String,
}

/// The buyer's contact as their account has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BuyerContact {
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The delivery address the buyer saved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `POST /api/booths/{id}/inquiries`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryInput {
    /// One of the booth seller's products.
    #[serde(default)]
    pub product_id: Option<Uuid>,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
    #[schema(schema_with = super::openapi::text::<30>)]
    pub unit: String,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub target_price: Option<i64>,
    /// A date (`YYYY-MM-DD`), today or later in Vietnam.
    #[serde(default, with = "super::product::iso_date::optional")]
    #[schema(value_type = Option<String>, format = Date, example = "2027-01-15")]
    pub deliver_by: Option<Date>,
    #[schema(schema_with = super::openapi::text::<2000>)]
    pub message: String,
}

/// `POST /api/inquiries/{id}/quote`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// VND per unit.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub price: i64,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
    /// RFC 3339, in the future.
    #[schema(format = DateTime)]
    pub valid_until: String,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub message: Option<String>,
}

fn check_range(errors: &mut FieldErrors, field: &str, value: i64, max: i64) {
    if !(1..=max).contains(&value) {
        errors.add(field, format!("must be from 1 to {max}"));
    }
}

/// Who the inquiry is between, as the service found them.
pub struct Parties<'a> {
    pub fair_id: Uuid,
    pub booth_id: Uuid,
    pub buyer_id: Uuid,
    pub buyer_name: &'a str,
    pub seller_id: Uuid,
    pub seller_name: &'a str,
}

impl InquiryInput {
    pub fn validate(
        &self,
        id: Uuid,
        parties: &Parties<'_>,
        now: OffsetDateTime,
        today: Date,
    ) -> Result<Inquiry, FieldErrors> {
        let mut errors = FieldErrors::new();
        check_range(&mut errors, "quantity", self.quantity, MAX_QUANTITY);
        let unit = required_text(&mut errors, "unit", &self.unit, 30);
        if let Some(p) = self.target_price {
            check_range(&mut errors, "target_price", p, MAX_PRICE);
        }
        if self.deliver_by.is_some_and(|d| d < today) {
            errors.add("deliver_by", "must be today or later");
        }
        let message = long_text(&mut errors, "message", Some(&self.message), 2000);
        if message.is_empty() {
            errors.add("message", "must not be empty");
        }
        errors.into_result()?;
        let at = format_rfc3339(now);
        Ok(Inquiry {
            id,
            fair_id: parties.fair_id,
            booth_id: parties.booth_id,
            buyer_id: parties.buyer_id,
            buyer_name: parties.buyer_name.to_owned(),
            seller_id: parties.seller_id,
            seller_name: parties.seller_name.to_owned(),
            product_id: self.product_id,
            quantity: self.quantity,
            unit,
            target_price: self.target_price,
            deliver_by: self.deliver_by,
            message,
            status: InquiryStatus::Open,
            quote: None,
            buyer_contact: None,
            created_at: at.clone(),
            updated_at: at,
        })
    }
}

impl QuoteInput {
    pub fn validate(&self, now: OffsetDateTime) -> Result<Quote, FieldErrors> {
        let mut errors = FieldErrors::new();
        check_range(&mut errors, "price", self.price, MAX_PRICE);
        check_range(&mut errors, "quantity", self.quantity, MAX_QUANTITY);
        let valid_until = parse_time(&mut errors, "valid_until", &self.valid_until);
        if let Some((t, _)) = &valid_until
            && *t <= now
        {
            errors.add("valid_until", "must be in the future");
        }
        let message = long_text(&mut errors, "message", self.message.as_deref(), 2000);
        errors.into_result()?;
        let Some((_, valid_until)) = valid_until else { unreachable!("checked above") };
        Ok(Quote { price: self.price, quantity: self.quantity, valid_until, message })
    }
}

impl Inquiry {
    /// The seller quotes an open inquiry (once).
    pub fn quote(&mut self, quote: Quote, now: OffsetDateTime) -> Result<(), &'static str> {
        match self.status {
            InquiryStatus::Open => {
                self.status = InquiryStatus::Quoted;
                self.quote = Some(quote);
                self.updated_at = format_rfc3339(now);
                Ok(())
            }
            InquiryStatus::Quoted => Err("the inquiry is quoted already"),
            InquiryStatus::Accepted | InquiryStatus::Declined => Err("the inquiry is closed"),
        }
    }

    /// The buyer accepts a quote that is still valid.
    pub fn accept(&mut self, now: OffsetDateTime) -> Result<(), &'static str> {
        match self.status {
            InquiryStatus::Quoted => {
                let valid = self.quote.as_ref().and_then(|q| super::fair::stored_time(&q.valid_until));
                if valid.is_none_or(|v| v <= now) {
                    return Err("the quote has expired");
                }
                self.status = InquiryStatus::Accepted;
                self.updated_at = format_rfc3339(now);
                Ok(())
            }
            InquiryStatus::Open => Err("there is no quote to accept yet"),
            InquiryStatus::Accepted | InquiryStatus::Declined => Err("the inquiry is closed"),
        }
    }

    /// Either side declines an inquiry that is not closed.
    pub fn decline(&mut self, now: OffsetDateTime) -> Result<(), &'static str> {
        match self.status {
            InquiryStatus::Open | InquiryStatus::Quoted => {
                self.status = InquiryStatus::Declined;
                self.updated_at = format_rfc3339(now);
                Ok(())
            }
            InquiryStatus::Accepted | InquiryStatus::Declined => Err("the inquiry is closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn parties() -> Parties<'static> {
        Parties {
            fair_id: Uuid::nil(),
            booth_id: Uuid::nil(),
            buyer_id: Uuid::nil(),
            buyer_name: "Công ty Thu Hà",
            seller_id: Uuid::nil(),
            seller_name: "HTX Mèo Vạc",
        }
    }

    fn input() -> InquiryInput {
        InquiryInput {
            quantity: 200,
            unit: "thùng".into(),
            message: "Cần mật ong cho chuỗi cửa hàng".into(),
            deliver_by: Some(date!(2027 - 01 - 15)),
            ..Default::default()
        }
    }

    #[test]
    fn an_inquiry_is_quoted_once_then_accepted_while_the_quote_holds() {
        let mut inquiry = input().validate(Uuid::nil(), &parties(), NOW, date!(2026 - 12 - 01)).unwrap();
        assert_eq!(inquiry.status, InquiryStatus::Open);
        assert!(inquiry.accept(NOW).is_err(), "nothing to accept");
        let quote = QuoteInput {
            price: 350_000,
            quantity: 200,
            valid_until: "2026-12-08T00:00:00+07:00".into(),
            message: None,
        }
        .validate(NOW)
        .unwrap();
        assert_eq!(quote.valid_until, "2026-12-07T17:00:00.000Z");
        inquiry.quote(quote.clone(), NOW).unwrap();
        assert!(inquiry.quote(quote, NOW).is_err(), "once");
        assert_eq!(inquiry.clone().accept(datetime!(2026-12-07 17:00 UTC)), Err("the quote has expired"));
        inquiry.accept(datetime!(2026-12-02 12:00 UTC)).unwrap();
        assert_eq!(inquiry.status, InquiryStatus::Accepted);
        assert!(inquiry.decline(NOW).is_err(), "closed");
    }

    #[test]
    fn bad_inquiries_and_quotes_name_their_fields() {
        let bad = InquiryInput {
            quantity: 0,
            unit: " ".into(),
            target_price: Some(-1),
            message: "".into(),
            deliver_by: Some(date!(2026 - 11 - 30)),
            ..input()
        };
        let errors = bad.validate(Uuid::nil(), &parties(), NOW, date!(2026 - 12 - 01)).unwrap_err();
        assert_eq!(
            errors.0.keys().collect::<Vec<_>>(),
            vec!["deliver_by", "message", "quantity", "target_price", "unit"]
        );
        let late = QuoteInput { price: 1, quantity: 1, valid_until: "2026-11-30T00:00:00Z".into(), message: None };
        assert_eq!(late.validate(NOW).unwrap_err().0["valid_until"], "must be in the future");
    }
}

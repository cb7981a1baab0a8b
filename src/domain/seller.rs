//! Seller profiles: the OCOP subject (chủ thể OCOP) behind a seller account.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FieldErrors, optional_phone, optional_text, required_text};

/// The legal form of an OCOP producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SellerKind {
    /// Hợp tác xã.
    Cooperative,
    /// Hộ sản xuất.
    #[default]
    Household,
    /// Doanh nghiệp.
    Enterprise,
}

/// A seller's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SellerProfile {
    pub id: Uuid,
    /// The account that acts for this seller.
    pub account_id: Uuid,
    #[schema(example = "HTX Mật ong Bạc hà Mèo Vạc")]
    pub display_name: String,
    pub kind: SellerKind,
    #[schema(example = "Tuyên Quang")]
    pub province: String,
    #[schema(example = "xã Mèo Vạc")]
    pub commune: String,
    pub intro: String,
    pub phone: Option<String>,
}

/// The editable fields of a profile.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SellerProfileInput {
    #[schema(schema_with = super::openapi::text::<120>)]
    pub display_name: String,
    pub kind: SellerKind,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<60>)]
    pub province: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<80>)]
    pub commune: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<500>)]
    pub intro: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_phone)]
    pub phone: Option<String>,
}

impl SellerProfile {
    /// Validates `input` into the profile `id` of `account_id`.
    pub fn parse(id: Uuid, account_id: Uuid, input: &SellerProfileInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let display_name = required_text(&mut errors, "display_name", &input.display_name, 120);
        let province = optional_text(&mut errors, "province", input.province.as_deref(), 60);
        let commune = optional_text(&mut errors, "commune", input.commune.as_deref(), 80);
        let intro = optional_text(&mut errors, "intro", input.intro.as_deref(), 500);
        let phone = optional_phone(&mut errors, "phone", input.phone.as_deref());
        errors.into_result()?;
        Ok(Self { id, account_id, display_name, kind: input.kind, province, commune, intro, phone })
    }
}

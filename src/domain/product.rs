//! OCOP products and gift combos, with the rules of Decision 148/QĐ-TTg that buyers rely on.

use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{FieldErrors, long_text, optional_text, required_text};

/// The six OCOP product groups of Decision 148/QĐ-TTg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductGroup {
    /// Thực phẩm.
    #[default]
    Food,
    /// Đồ uống.
    Drinks,
    /// Thảo dược.
    Herbal,
    /// Thủ công mỹ nghệ.
    Handicraft,
    /// Sinh vật cảnh.
    Ornamental,
    /// Dịch vụ du lịch cộng đồng và điểm du lịch.
    Tourism,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    #[default]
    Single,
    /// A gift basket made of other products of the same seller.
    Combo,
}

/// The OCOP certificate (Giấy chứng nhận sản phẩm OCOP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    #[schema(schema_with = super::openapi::text::<64>)]
    pub number: String,
    #[schema(schema_with = super::openapi::text::<120>)]
    pub issued_by: String,
    /// `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date, example = "2025-03-15")]
    #[serde(with = "iso_date")]
    pub issued_at: Date,
    /// `YYYY-MM-DD`, after `issued_at`; a certificate is valid for 36 months.
    #[schema(value_type = String, format = Date, example = "2028-03-15")]
    #[serde(with = "iso_date")]
    pub expires_at: Date,
}

/// One component of a combo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub product_id: Uuid,
    /// Units of the component in one combo, 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub qty: u32,
}

/// A product as stored; its stock lives apart, in a counter changed atomically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub id: Uuid,
    pub seller_id: Uuid,
    pub name: String,
    pub description: String,
    pub story: String,
    pub unit: String,
    pub price: i64,
    pub images: Vec<String>,
    pub province: String,
    pub group: ProductGroup,
    pub stars: u8,
    pub potential_five_star: bool,
    pub certificate: Option<Certificate>,
    pub trace_code: String,
    pub kind: ProductKind,
    pub components: Vec<Component>,
    /// The lowercase, diacritic-free text that catalog search matches against.
    pub search_key: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A product as clients see it (`product` in PROTOCOL.md §1), with its current stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub seller_id: Uuid,
    #[schema(example = "Mật ong bạc hà Mèo Vạc")]
    pub name: String,
    pub description: String,
    pub story: String,
    #[schema(example = "hũ 500ml")]
    pub unit: String,
    /// VND.
    #[schema(example = 390000)]
    pub price: i64,
    /// Units available now; for a combo, how many whole combos its components make.
    pub stock: i64,
    pub images: Vec<String>,
    pub province: String,
    pub group: ProductGroup,
    /// 3, 4 or 5.
    pub stars: u8,
    pub potential_five_star: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// True when the certificate's expiry date has passed: shown as such, never on a flash offer.
    pub certificate_expired: bool,
    /// Leads to the public traceability page `/t/{trace_code}`.
    pub trace_code: String,
    pub kind: ProductKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    pub created_at: String,
    pub updated_at: String,
}

impl ProductRecord {
    pub fn view(&self, stock: i64, today: Date) -> Product {
        Product {
            id: self.id,
            seller_id: self.seller_id,
            name: self.name.clone(),
            description: self.description.clone(),
            story: self.story.clone(),
            unit: self.unit.clone(),
            price: self.price,
            stock,
            images: self.images.clone(),
            province: self.province.clone(),
            group: self.group,
            stars: self.stars,
            potential_five_star: self.potential_five_star,
            certificate: self.certificate.clone(),
            certificate_expired: self.certificate_expired(today),
            trace_code: self.trace_code.clone(),
            kind: self.kind,
            components: (self.kind == ProductKind::Combo).then(|| self.components.clone()),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }

    /// Expired on the day after `expires_at`; a product without a certificate is not "expired".
    pub fn certificate_expired(&self, today: Date) -> bool {
        self.certificate.as_ref().is_some_and(|c| c.expires_at < today)
    }

    fn refresh_search_key(&mut self) {
        self.search_key = crate::vn::fold(&format!("{} {} {}", self.name, self.province, self.description));
    }
}

/// `POST /api/products`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    #[schema(schema_with = super::openapi::text::<120>)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<500>)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub story: Option<String>,
    #[schema(schema_with = super::openapi::text::<30>)]
    pub unit: String,
    /// VND, 1 to 1,000,000,000.
    #[schema(minimum = 1, maximum = 1000000000, example = 390000)]
    pub price: i64,
    /// Units in stock, 0 to 1,000,000; must be absent or 0 for a combo, whose stock comes from
    /// its components.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: Option<i64>,
    #[serde(default)]
    #[schema(schema_with = super::openapi::images)]
    pub images: Option<Vec<String>>,
    #[schema(schema_with = super::openapi::text::<60>)]
    pub province: String,
    pub group: ProductGroup,
    /// 3, 4 or 5.
    #[schema(minimum = 3, maximum = 5)]
    pub stars: u8,
    /// Only a 4-star product can be a potential five-star product.
    #[serde(default)]
    pub potential_five_star: Option<bool>,
    #[serde(default)]
    pub certificate: Option<Certificate>,
    #[serde(default)]
    pub kind: Option<ProductKind>,
    /// A combo's components (1 to 20, each a different single product of the same seller);
    /// absent or empty for a single product.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub components: Option<Vec<Component>>,
}

/// `PATCH /api/products/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    #[schema(schema_with = super::openapi::new_text::<120>)]
    pub name: Option<String>,
    #[schema(schema_with = super::openapi::optional_text::<500>)]
    pub description: Option<String>,
    #[schema(schema_with = super::openapi::optional_text::<2000>)]
    pub story: Option<String>,
    #[schema(schema_with = super::openapi::new_text::<30>)]
    pub unit: Option<String>,
    /// VND, 1 to 1,000,000,000.
    #[schema(minimum = 1, maximum = 1000000000)]
    pub price: Option<i64>,
    /// Sets the stock of a single product, 0 to 1,000,000; a combo's stock comes from its
    /// components.
    #[schema(minimum = 0, maximum = 1000000)]
    pub stock: Option<i64>,
    #[schema(schema_with = super::openapi::images)]
    pub images: Option<Vec<String>>,
    #[schema(schema_with = super::openapi::new_text::<60>)]
    pub province: Option<String>,
    pub group: Option<ProductGroup>,
    /// 3, 4 or 5; a potential five-star product stays at 4.
    #[schema(minimum = 3, maximum = 5)]
    pub stars: Option<u8>,
    /// Only a 4-star product can be a potential five-star product.
    pub potential_five_star: Option<bool>,
    pub certificate: Option<Certificate>,
    /// A combo's new components (1 to 20, each a different single product of the same seller);
    /// only a combo has components.
    #[schema(max_items = 20)]
    pub components: Option<Vec<Component>>,
}

/// Bounds of product fields; each is what a product page can show.
pub const MAX_PRICE: i64 = 1_000_000_000;
pub const MAX_STOCK: i64 = 1_000_000;
const MAX_IMAGES: usize = 10;
const MAX_COMPONENTS: usize = 20;
const MAX_COMPONENT_QTY: u32 = 100;

/// A validated product before storage, with the stock to set for a single product.
#[derive(Debug, Clone)]
pub struct ValidProduct {
    pub record: ProductRecord,
    pub stock: Option<i64>,
}

/// What the catalog knows about a combo's would-be component.
#[derive(Debug, Clone, Copy)]
pub struct ComponentInfo {
    pub seller_id: Uuid,
    pub kind: ProductKind,
}

impl ProductInput {
    /// Validates a new product of `seller_id`. `lookup` tells what a component id refers to.
    pub fn validate(
        &self,
        id: Uuid,
        seller_id: Uuid,
        trace_code: String,
        now: &str,
        lookup: &dyn Fn(Uuid) -> Option<ComponentInfo>,
    ) -> Result<ValidProduct, FieldErrors> {
        let mut errors = FieldErrors::new();
        let kind = self.kind.unwrap_or_default();
        let mut record = ProductRecord {
            id,
            seller_id,
            name: required_text(&mut errors, "name", &self.name, 120),
            description: optional_text(&mut errors, "description", self.description.as_deref(), 500),
            story: long_text(&mut errors, "story", self.story.as_deref(), 2000),
            unit: required_text(&mut errors, "unit", &self.unit, 30),
            price: check_price(&mut errors, self.price),
            images: check_images(&mut errors, self.images.as_deref().unwrap_or_default()),
            province: required_text(&mut errors, "province", &self.province, 60),
            group: self.group,
            stars: check_stars(&mut errors, self.stars),
            potential_five_star: self.potential_five_star.unwrap_or(false),
            certificate: self.certificate.as_ref().map(|c| check_certificate(&mut errors, c)),
            trace_code,
            kind,
            components: Vec::new(),
            search_key: String::new(),
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        check_potential(&mut errors, record.stars, record.potential_five_star);
        let stock = match kind {
            ProductKind::Single => {
                if self.components.as_ref().is_some_and(|c| !c.is_empty()) {
                    errors.add("components", "only a combo has components");
                }
                Some(check_stock(&mut errors, self.stock.unwrap_or(0)))
            }
            ProductKind::Combo => {
                if self.stock.is_some_and(|s| s != 0) {
                    errors.add("stock", "a combo's stock comes from its components");
                }
                let components = self.components.as_deref().unwrap_or_default();
                record.components = check_components(&mut errors, id, seller_id, components, lookup);
                None
            }
        };
        errors.into_result()?;
        record.refresh_search_key();
        Ok(ValidProduct { record, stock })
    }
}

impl ProductPatch {
    /// Applies the patch to `record`, validating each given field. Returns the new record and
    /// the stock to set, if any.
    pub fn apply(
        &self,
        record: &ProductRecord,
        now: &str,
        lookup: &dyn Fn(Uuid) -> Option<ComponentInfo>,
    ) -> Result<ValidProduct, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = record.clone();
        if let Some(v) = &self.name {
            next.name = required_text(&mut errors, "name", v, 120);
        }
        if let Some(v) = &self.description {
            next.description = optional_text(&mut errors, "description", Some(v), 500);
        }
        if let Some(v) = &self.story {
            next.story = long_text(&mut errors, "story", Some(v), 2000);
        }
        if let Some(v) = &self.unit {
            next.unit = required_text(&mut errors, "unit", v, 30);
        }
        if let Some(v) = self.price {
            next.price = check_price(&mut errors, v);
        }
        if let Some(v) = &self.images {
            next.images = check_images(&mut errors, v);
        }
        if let Some(v) = &self.province {
            next.province = required_text(&mut errors, "province", v, 60);
        }
        if let Some(v) = self.group {
            next.group = v;
        }
        if let Some(v) = self.stars {
            next.stars = check_stars(&mut errors, v);
        }
        if let Some(v) = self.potential_five_star {
            next.potential_five_star = v;
        }
        check_potential(&mut errors, next.stars, next.potential_five_star);
        if let Some(c) = &self.certificate {
            next.certificate = Some(check_certificate(&mut errors, c));
        }
        let stock = match (record.kind, self.stock) {
            (ProductKind::Single, Some(s)) => Some(check_stock(&mut errors, s)),
            (ProductKind::Combo, Some(_)) => {
                errors.add("stock", "a combo's stock comes from its components");
                None
            }
            (_, None) => None,
        };
        if let Some(components) = &self.components {
            if record.kind == ProductKind::Combo {
                next.components = check_components(&mut errors, record.id, record.seller_id, components, lookup);
            } else {
                errors.add("components", "only a combo has components");
            }
        }
        errors.into_result()?;
        next.updated_at = now.to_owned();
        next.refresh_search_key();
        Ok(ValidProduct { record: next, stock })
    }
}

fn check_price(errors: &mut FieldErrors, price: i64) -> i64 {
    if !(1..=MAX_PRICE).contains(&price) {
        errors.add("price", format!("must be a whole number of VND from 1 to {MAX_PRICE}"));
    }
    price
}

fn check_stock(errors: &mut FieldErrors, stock: i64) -> i64 {
    if !(0..=MAX_STOCK).contains(&stock) {
        errors.add("stock", format!("must be from 0 to {MAX_STOCK}"));
    }
    stock
}

fn check_stars(errors: &mut FieldErrors, stars: u8) -> u8 {
    if !(3..=5).contains(&stars) {
        errors.add("stars", "OCOP ratings are 3, 4 or 5 stars");
    }
    stars
}

fn check_potential(errors: &mut FieldErrors, stars: u8, potential: bool) {
    if potential && stars != 4 {
        errors.add("potential_five_star", "only a 4-star product can be a potential five-star product");
    }
}

fn check_images(errors: &mut FieldErrors, images: &[String]) -> Vec<String> {
    if images.len() > MAX_IMAGES {
        errors.add("images", format!("at most {MAX_IMAGES} images"));
    }
    for (i, url) in images.iter().enumerate() {
        let ok = (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
            && url.len() <= 500
            && !url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>');
        if !ok {
            errors.add(format!("images[{i}]"), "must be an http(s) URL or a path, at most 500 characters");
        }
    }
    images.to_vec()
}

fn check_certificate(errors: &mut FieldErrors, c: &Certificate) -> Certificate {
    let number = required_text(errors, "certificate.number", &c.number, 64);
    let issued_by = required_text(errors, "certificate.issued_by", &c.issued_by, 120);
    if c.expires_at <= c.issued_at {
        errors.add("certificate.expires_at", "must be after issued_at");
    }
    Certificate { number, issued_by, issued_at: c.issued_at, expires_at: c.expires_at }
}

fn check_components(
    errors: &mut FieldErrors,
    combo_id: Uuid,
    seller_id: Uuid,
    components: &[Component],
    lookup: &dyn Fn(Uuid) -> Option<ComponentInfo>,
) -> Vec<Component> {
    if components.is_empty() {
        errors.add("components", "a combo needs at least one component");
    }
    if components.len() > MAX_COMPONENTS {
        errors.add("components", format!("at most {MAX_COMPONENTS} components"));
    }
    for (i, c) in components.iter().enumerate() {
        let field = format!("components[{i}]");
        if c.product_id == combo_id {
            errors.add(field, "a combo cannot contain itself");
            continue;
        }
        if components[..i].iter().any(|o| o.product_id == c.product_id) {
            errors.add(field, "each product appears once; raise its qty instead");
            continue;
        }
        if !(1..=MAX_COMPONENT_QTY).contains(&c.qty) {
            errors.add(format!("{field}.qty"), format!("must be from 1 to {MAX_COMPONENT_QTY}"));
        }
        match lookup(c.product_id) {
            None => errors.add(format!("{field}.product_id"), "no such product"),
            Some(info) if info.seller_id != seller_id => {
                errors.add(format!("{field}.product_id"), "a combo is made of the seller's own products")
            }
            Some(info) if info.kind == ProductKind::Combo => {
                errors.add(format!("{field}.product_id"), "a combo cannot contain another combo")
            }
            Some(_) => {}
        }
    }
    components.to_vec()
}

/// `YYYY-MM-DD` dates in JSON.
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::macros::format_description;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&date.format(FORMAT).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text, FORMAT).map_err(|_| serde::de::Error::custom("expected a date as YYYY-MM-DD"))
    }

    /// The same for an optional date (absent or null: none).
    pub mod optional {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::Date;

        pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match date {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => Date::parse(&text, super::FORMAT)
                    .map(Some)
                    .map_err(|_| serde::de::Error::custom("expected a date as YYYY-MM-DD")),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn input() -> ProductInput {
        ProductInput {
            name: "Mật ong bạc hà".into(),
            unit: "hũ 500ml".into(),
            price: 390_000,
            stock: Some(40),
            province: "Tuyên Quang".into(),
            group: ProductGroup::Food,
            stars: 4,
            ..Default::default()
        }
    }

    fn none(_: Uuid) -> Option<ComponentInfo> {
        None
    }

    fn fields(e: FieldErrors) -> Vec<String> {
        e.0.into_keys().collect()
    }

    #[test]
    fn a_valid_product_gets_a_search_key() {
        let v = input().validate(Uuid::now_v7(), Uuid::now_v7(), "T1".into(), "now", &none).unwrap();
        assert_eq!(v.stock, Some(40));
        assert!(v.record.search_key.contains("mat ong bac ha"));
    }

    #[test]
    fn field_rules() {
        type Case = (&'static str, fn(&mut ProductInput));
        let cases: &[Case] = &[
            ("price", |p| p.price = 0),
            ("price", |p| p.price = -5),
            ("stock", |p| p.stock = Some(-1)),
            ("stars", |p| p.stars = 2),
            ("stars", |p| p.stars = 6),
            ("name", |p| p.name = " \u{200B} ".into()),
            ("name", |p| p.name = "x".repeat(121)),
            ("unit", |p| p.unit = String::new()),
            ("province", |p| p.province = String::new()),
            ("images[0]", |p| p.images = Some(vec!["javascript:alert(1)".into()])),
            ("images", |p| p.images = Some(vec!["https://a.vn/x.jpg".into(); 11])),
            ("potential_five_star", |p| p.potential_five_star = Some(true)),
            ("components", |p| p.components = Some(vec![Component { product_id: Uuid::nil(), qty: 1 }])),
            ("certificate.expires_at", |p| {
                p.certificate = Some(Certificate {
                    number: "1".into(),
                    issued_by: "UBND".into(),
                    issued_at: date!(2025 - 01 - 01),
                    expires_at: date!(2024 - 01 - 01),
                })
            }),
        ];
        for (field, change) in cases {
            let mut p = input();
            p.stars = 3;
            change(&mut p);
            let err = p.validate(Uuid::now_v7(), Uuid::now_v7(), "T".into(), "now", &none).unwrap_err();
            assert_eq!(fields(err), vec![field.to_string()], "{field}");
        }
    }

    #[test]
    fn combo_rules() {
        let seller = Uuid::now_v7();
        let combo = Uuid::now_v7();
        let (mine, theirs, other_combo) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let lookup = move |id: Uuid| {
            if id == mine {
                Some(ComponentInfo { seller_id: seller, kind: ProductKind::Single })
            } else if id == theirs {
                Some(ComponentInfo { seller_id: Uuid::nil(), kind: ProductKind::Single })
            } else if id == other_combo {
                Some(ComponentInfo { seller_id: seller, kind: ProductKind::Combo })
            } else {
                None
            }
        };
        let combo_of = |components: Vec<Component>, stock: Option<i64>| ProductInput {
            kind: Some(ProductKind::Combo),
            components: Some(components),
            stock,
            ..input()
        };
        let ok = combo_of(vec![Component { product_id: mine, qty: 2 }], None)
            .validate(combo, seller, "T".into(), "now", &lookup)
            .unwrap();
        assert_eq!(ok.stock, None);
        let c = |product_id, qty| Component { product_id, qty };
        for (components, stock, field) in [
            (vec![], None, "components"),
            (vec![c(combo, 1)], None, "components[0]"),
            (vec![c(theirs, 1)], None, "components[0].product_id"),
            (vec![c(other_combo, 1)], None, "components[0].product_id"),
            (vec![c(Uuid::now_v7(), 1)], None, "components[0].product_id"),
            (vec![c(mine, 0)], None, "components[0].qty"),
            (vec![c(mine, 1), c(mine, 2)], None, "components[1]"),
            (vec![c(mine, 1)], Some(5), "stock"),
        ] {
            let err = combo_of(components, stock).validate(combo, seller, "T".into(), "now", &lookup).unwrap_err();
            assert_eq!(fields(err), vec![field.to_string()], "{field}");
        }
    }

    #[test]
    fn expiry_is_the_day_after_expires_at() {
        let mut v = input().validate(Uuid::now_v7(), Uuid::now_v7(), "T".into(), "now", &none).unwrap().record;
        assert!(!v.certificate_expired(date!(2030 - 01 - 01)));
        v.certificate = Some(Certificate {
            number: "1".into(),
            issued_by: "UBND".into(),
            issued_at: date!(2022 - 06 - 01),
            expires_at: date!(2025 - 06 - 01),
        });
        assert!(!v.certificate_expired(date!(2025 - 06 - 01)));
        assert!(v.certificate_expired(date!(2025 - 06 - 02)));
    }

    #[test]
    fn patch_validates_only_what_it_changes() {
        let record = input().validate(Uuid::now_v7(), Uuid::now_v7(), "T".into(), "t0", &none).unwrap().record;
        let patch = ProductPatch { price: Some(350_000), stock: Some(12), ..Default::default() };
        let v = patch.apply(&record, "t1", &none).unwrap();
        assert_eq!((v.record.price, v.stock, v.record.updated_at.as_str()), (350_000, Some(12), "t1"));
        let bad = ProductPatch { stars: Some(9), components: Some(vec![]), ..Default::default() };
        assert_eq!(fields(bad.apply(&record, "t1", &none).unwrap_err()), vec!["components", "stars"]);
    }
}

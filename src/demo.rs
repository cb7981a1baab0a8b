//! `--demo`: seeds the documented demo accounts and catalog (`src/demo/demo.json`) once.

use serde::Deserialize;

use crate::accounts::{AccountError, Accounts};
use crate::auth::Role;
use crate::domain::FieldErrors;
use crate::domain::account::{DeliveryContact, NewAccount};
use crate::domain::product::{Component, ProductInput};
use crate::domain::seller::SellerProfileInput;

const DATA: &str = include_str!("demo/demo.json");

#[derive(Deserialize)]
struct DemoData {
    admin: Login,
    organiser: Login,
    sellers: Vec<DemoSeller>,
    buyers: Vec<DemoBuyer>,
}

#[derive(Deserialize)]
struct Login {
    name: String,
    email: String,
    password: String,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Deserialize)]
struct DemoSeller {
    account: Login,
    profile: SellerProfileInput,
    products: Vec<DemoProduct>,
}

#[derive(Deserialize)]
struct DemoProduct {
    code: String,
    #[serde(flatten)]
    input: serde_json::Value,
    #[serde(default)]
    components: Vec<DemoComponent>,
}

#[derive(Deserialize)]
struct DemoComponent {
    code: String,
    qty: u32,
}

#[derive(Deserialize)]
struct DemoBuyer {
    #[serde(flatten)]
    login: Login,
    delivery: DeliveryContact,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo data is malformed: {0}")]
    Malformed(String),
    #[error("demo data is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Account(#[from] AccountError),
}

fn invalid(what: &str, e: FieldErrors) -> DemoError {
    DemoError::Invalid(format!("{what}: {:?}", e.0))
}

/// The first demo seller as seeded: who goes live in the demo show, with what.
pub struct Seeded {
    pub seller: crate::auth::User,
    pub seller_id: uuid::Uuid,
    /// The seller's products in the order of `demo.json`, singles first.
    pub products: Vec<uuid::Uuid>,
    /// The demo organiser, and every seller with their first product.
    pub organiser: crate::auth::User,
    pub sellers: Vec<(uuid::Uuid, uuid::Uuid)>,
}

/// Seeds the demo data unless it was seeded before. Returns the first seller when it seeded now.
pub async fn seed(accounts: &Accounts, now: &str, today: time::Date) -> Result<Option<Seeded>, DemoError> {
    let data: DemoData = serde_json::from_str(DATA).map_err(|e| DemoError::Malformed(e.to_string()))?;
    if !accounts.once("demo-seeded").await.map_err(AccountError::from)? {
        return Ok(None);
    }
    let mut first = None;
    let login = |l: &Login, role: Role| {
        NewAccount::parse(&l.name, &l.email, &l.password, role, l.phone.as_deref(), &[role])
            .map_err(|e| invalid(&l.email, e))
    };
    accounts.create(login(&data.admin, Role::Admin)?, None, now).await?;
    let organiser = accounts.create(login(&data.organiser, Role::Organiser)?, None, now).await?.user();
    let mut sellers = Vec::new();
    for buyer in &data.buyers {
        let account = accounts.create(login(&buyer.login, Role::Buyer)?, None, now).await?;
        let contact = DeliveryContact::parse(&buyer.delivery).map_err(|e| invalid(&buyer.login.email, e))?;
        accounts.set_delivery(account.id, contact).await?;
    }
    let catalog = accounts.catalog();
    for seller in &data.sellers {
        let account = accounts.create(login(&seller.account, Role::Seller)?, Some(&seller.profile), now).await?;
        let seller_id = account.seller_id.ok_or_else(|| DemoError::Invalid("seller without profile".into()))?;
        let mut ids = std::collections::HashMap::new();
        let mut lineup = Vec::new();
        // Singles first, so combos can name them.
        let (combos, singles): (Vec<_>, Vec<_>) = seller.products.iter().partition(|p| !p.components.is_empty());
        for product in singles.into_iter().chain(combos) {
            let mut input: ProductInput = serde_json::from_value(strip_code(&product.input))
                .map_err(|e| DemoError::Malformed(format!("{}: {e}", product.code)))?;
            if !product.components.is_empty() {
                let mut components = Vec::new();
                for c in &product.components {
                    let id = ids
                        .get(&c.code)
                        .copied()
                        .ok_or_else(|| DemoError::Invalid(format!("{}: unknown component {}", product.code, c.code)))?;
                    components.push(Component { product_id: id, qty: c.qty });
                }
                input.components = Some(components);
            }
            let created = catalog.create_product(seller_id, &input, now, today).await.map_err(|e| match e {
                crate::catalog::CatalogError::Invalid(f) => invalid(&product.code, f),
                other => DemoError::Account(other.into()),
            })?;
            ids.insert(product.code.clone(), created.id);
            if !sellers.iter().any(|(s, _)| *s == seller_id) {
                sellers.push((seller_id, created.id));
            }
            if first.is_none() {
                lineup.push(created.id);
            }
        }
        if first.is_none() {
            first = Some(Seeded {
                seller: account.user(),
                seller_id,
                products: std::mem::take(&mut lineup),
                organiser: organiser.clone(),
                sellers: Vec::new(),
            });
        }
    }
    Ok(first.map(|f| Seeded { sellers, ..f }))
}

/// Puts the first demo seller on air: a live show of their products with the first one pinned,
/// so the home page has a working room from the first start.
pub async fn go_live(shows: &crate::shows::Shows, seeded: &Seeded) -> Result<uuid::Uuid, crate::shows::ShowError> {
    use crate::domain::show::{ShowInput, ShowStatus};
    let input = ShowInput {
        title: "Mật ong bạc hà Mèo Vạc — phiên live giới thiệu".into(),
        description: Some("Phiên live mẫu của chợ OCOP: xem, trò chuyện, gõ “chốt 1” hoặc bấm mua.".into()),
        scheduled_at: None,
        stream: None,
        products: Some(seeded.products.clone()),
        fair_id: None,
        duration_min: None,
    };
    let show = shows.create(seeded.seller_id, &input, None).await?;
    shows.transition(&seeded.seller, show.id, ShowStatus::Live, None).await?;
    if let Some(first) = seeded.products.first() {
        shows.pin(&seeded.seller, show.id, Some(*first)).await?;
    }
    Ok(show.id)
}

/// The product fields without the demo-only `code` and `components` (given by code).
fn strip_code(value: &serde_json::Value) -> serde_json::Value {
    let mut v = value.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("code");
        map.remove("components");
    }
    v
}

/// Opens the demo fair: a week from now, every demo seller with an approved booth featuring
/// their first product, and a show of the second seller on its agenda in two hours.
pub async fn open_fair(
    fairs: &crate::fairs::Fairs,
    seeded: &Seeded,
    now: time::OffsetDateTime,
) -> Result<uuid::Uuid, crate::fairs::FairError> {
    use crate::clock::format_rfc3339;
    use crate::domain::fair::{BoothInput, FairInput};
    let input = FairInput {
        name: "Chợ OCOP online — Hội chợ mùa đông 2026".into(),
        description: Some(
            "Gian hàng của các chủ thể OCOP, phiên live mỗi tối và kết nối cung cầu với bên mua sỉ.".into(),
        ),
        province: None,
        theme: Some("Đặc sản vùng cao".into()),
        banner_url: None,
        opens_at: format_rfc3339(now - time::Duration::minutes(1)),
        closes_at: format_rfc3339(now + time::Duration::days(7)),
    };
    let fair = fairs.create(&seeded.organiser, &input).await?;
    fairs.publish(&seeded.organiser, fair.id).await?;
    for (seller, product) in &seeded.sellers {
        let booth =
            BoothInput { seller_id: Some(*seller), featured_products: Some(vec![*product]), ..Default::default() };
        fairs.apply(&seeded.organiser, fair.id, &booth).await?;
    }
    if let Some((seller, product)) = seeded.sellers.get(1) {
        let show = crate::domain::show::ShowInput {
            title: "Phiên live giới thiệu đặc sản — tối nay".into(),
            description: Some("Giới thiệu sản phẩm và giải đáp câu hỏi của người mua.".into()),
            scheduled_at: Some(format_rfc3339(now + time::Duration::hours(2))),
            stream: None,
            products: Some(vec![*product]),
            fair_id: Some(fair.id),
            duration_min: None,
        };
        fairs.create_show(*seller, &show).await?;
    }
    Ok(fair.id)
}

//! The catalog service: seller profiles and products, stored through the engine's [`State`].
//!
//! Keys (under the engine prefix): `{s:<seller>}:seller`, `{s:<seller>}:product:<id>` (JSON),
//! `{s:<seller>}:stock:<id>` (an integer, changed atomically), `{s:<seller>}:products` (the
//! seller's index), `products` (the catalog index), `product:<id>:seller` (who owns a product)
//! and `trace:<code>` (a trace code's product). Everything a seller owns shares the seller's hash
//! tag, so taking a combo's components is one atomic step.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use crate::domain::FieldErrors;
use crate::domain::product::{ComponentInfo, Product, ProductInput, ProductKind, ProductPatch, ProductRecord};
use crate::domain::seller::SellerProfile;
use crate::engine::{EngineError, State, Take};

/// Products scanned at most for one list request, so a narrow filter cannot make one request
/// read the whole catalog; the cursor lets the client continue.
const SCAN_CAP: usize = 2000;
/// Largest page a client may ask for.
pub const MAX_PAGE: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Filters of `GET /api/products`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ProductQuery {
    pub seller: Option<Uuid>,
    pub province: Option<String>,
    pub group: Option<crate::domain::product::ProductGroup>,
    pub stars: Option<u8>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// One page of products; `next_cursor` continues after the last product scanned.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Product>,
    pub next_cursor: Option<String>,
}

#[derive(Clone)]
pub struct Catalog {
    state: Arc<dyn State>,
}

fn seller_key(seller: Uuid) -> String {
    format!("{{s:{seller}}}:seller")
}
fn product_key(seller: Uuid, id: Uuid) -> String {
    format!("{{s:{seller}}}:product:{id}")
}
/// The stock counter of a single product.
pub fn stock_key(seller: Uuid, id: Uuid) -> String {
    format!("{{s:{seller}}}:stock:{id}")
}
fn seller_index(seller: Uuid) -> String {
    format!("{{s:{seller}}}:products")
}
fn owner_key(id: Uuid) -> String {
    format!("product:{id}:seller")
}
fn trace_key(code: &str) -> String {
    format!("trace:{code}")
}
const CATALOG_INDEX: &str = "products";

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, EngineError> {
    serde_json::from_slice(bytes).map_err(|e| EngineError::Internal(format!("corrupt record: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Bytes, EngineError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| EngineError::Internal(e.to_string()))
}

fn parse_int(bytes: Option<&Bytes>) -> i64 {
    bytes.and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A trace code: 10 characters of Crockford base32, easy to read aloud and to type.
fn new_trace_code() -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    (0..10).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

impl Catalog {
    pub fn new(state: Arc<dyn State>) -> Self {
        Self { state }
    }

    pub async fn put_seller(&self, profile: &SellerProfile) -> Result<(), CatalogError> {
        self.state.set(&seller_key(profile.id), &encode(profile)?, None).await?;
        Ok(())
    }

    pub async fn seller(&self, id: Uuid) -> Result<SellerProfile, CatalogError> {
        let bytes = self.state.get(&seller_key(id)).await?.ok_or(CatalogError::NotFound)?;
        Ok(decode(&bytes)?)
    }

    async fn owner(&self, id: Uuid) -> Result<Option<Uuid>, EngineError> {
        let Some(bytes) = self.state.get(&owner_key(id)).await? else { return Ok(None) };
        Ok(std::str::from_utf8(&bytes).ok().and_then(|s| Uuid::parse_str(s).ok()))
    }

    /// The stored record of a product.
    pub async fn record(&self, id: Uuid) -> Result<ProductRecord, CatalogError> {
        let seller = self.owner(id).await?.ok_or(CatalogError::NotFound)?;
        let bytes = self.state.get(&product_key(seller, id)).await?.ok_or(CatalogError::NotFound)?;
        Ok(decode(&bytes)?)
    }

    /// A product with its current stock.
    pub async fn product(&self, id: Uuid, today: Date) -> Result<Product, CatalogError> {
        let record = self.record(id).await?;
        let mut views = self.views(vec![record], today).await?;
        views.pop().ok_or(CatalogError::NotFound)
    }

    /// Reads the stock of every record (and of combos' components) and builds the views.
    async fn views(&self, records: Vec<ProductRecord>, today: Date) -> Result<Vec<Product>, EngineError> {
        let mut keys = Vec::new();
        for r in &records {
            match r.kind {
                ProductKind::Single => keys.push(stock_key(r.seller_id, r.id)),
                ProductKind::Combo => keys.extend(r.components.iter().map(|c| stock_key(r.seller_id, c.product_id))),
            }
        }
        let stocks = self.state.get_many(&keys).await?;
        let mut at = 0;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let stock = match r.kind {
                ProductKind::Single => {
                    at += 1;
                    parse_int(stocks[at - 1].as_ref())
                }
                ProductKind::Combo => {
                    let n = r.components.len();
                    let per_component = r.components.iter().zip(&stocks[at..at + n]);
                    let whole =
                        per_component.map(|(c, s)| parse_int(s.as_ref()) / i64::from(c.qty.max(1))).min().unwrap_or(0);
                    at += n;
                    whole.max(0)
                }
            };
            out.push(r.view(stock, today));
        }
        Ok(out)
    }

    /// What each id refers to, for combo validation.
    async fn component_infos(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, ComponentInfo)>, EngineError> {
        let mut infos = Vec::new();
        for id in ids {
            if let Ok(r) = self.record(*id).await {
                infos.push((*id, ComponentInfo { seller_id: r.seller_id, kind: r.kind }));
            }
        }
        Ok(infos)
    }

    /// Creates a product owned by `seller_id`.
    pub async fn create_product(
        &self,
        seller_id: Uuid,
        input: &ProductInput,
        now: &str,
        today: Date,
    ) -> Result<Product, CatalogError> {
        let id = Uuid::now_v7();
        let ids: Vec<Uuid> = input.components.iter().flatten().map(|c| c.product_id).collect();
        let infos = self.component_infos(&ids).await?;
        let lookup = |pid: Uuid| infos.iter().find(|(i, _)| *i == pid).map(|(_, info)| *info);
        // Claim a trace code no other product has.
        let mut trace_code = new_trace_code();
        while !self.state.set_nx(&trace_key(&trace_code), id.to_string().as_bytes(), None).await? {
            trace_code = new_trace_code();
        }
        let valid = match input.validate(id, seller_id, trace_code.clone(), now, &lookup) {
            Ok(v) => v,
            Err(e) => {
                self.state.delete(&trace_key(&trace_code)).await?;
                return Err(CatalogError::Invalid(e));
            }
        };
        self.state.set(&owner_key(id), seller_id.to_string().as_bytes(), None).await?;
        let mut entries = vec![(product_key(seller_id, id), encode(&valid.record)?)];
        if let Some(stock) = valid.stock {
            entries.push((stock_key(seller_id, id), Bytes::from(stock.to_string())));
        }
        self.state.set_many(&entries).await?;
        self.state.index_add(&seller_index(seller_id), &id.to_string()).await?;
        self.state.index_add(CATALOG_INDEX, &id.to_string()).await?;
        let mut views = self.views(vec![valid.record], today).await?;
        views.pop().ok_or(CatalogError::NotFound)
    }

    /// Applies a patch; the caller has checked ownership.
    pub async fn update_product(
        &self,
        record: &ProductRecord,
        patch: &ProductPatch,
        now: &str,
        today: Date,
    ) -> Result<Product, CatalogError> {
        let ids: Vec<Uuid> = patch.components.iter().flatten().map(|c| c.product_id).collect();
        let infos = self.component_infos(&ids).await?;
        let lookup = |pid: Uuid| infos.iter().find(|(i, _)| *i == pid).map(|(_, info)| *info);
        let valid = patch.apply(record, now, &lookup).map_err(CatalogError::Invalid)?;
        let mut entries = vec![(product_key(record.seller_id, record.id), encode(&valid.record)?)];
        if let Some(stock) = valid.stock {
            entries.push((stock_key(record.seller_id, record.id), Bytes::from(stock.to_string())));
        }
        self.state.set_many(&entries).await?;
        let mut views = self.views(vec![valid.record], today).await?;
        views.pop().ok_or(CatalogError::NotFound)
    }

    /// The product a trace code leads to.
    pub async fn by_trace_code(&self, code: &str, today: Date) -> Result<Product, CatalogError> {
        let valid = code.len() <= 16 && code.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(CatalogError::NotFound);
        }
        let bytes = self.state.get(&trace_key(&code.to_ascii_uppercase())).await?.ok_or(CatalogError::NotFound)?;
        let id =
            std::str::from_utf8(&bytes).ok().and_then(|s| Uuid::parse_str(s).ok()).ok_or(CatalogError::NotFound)?;
        self.product(id, today).await
    }

    /// A page of products matching `query`, oldest first.
    pub async fn list(&self, query: &ProductQuery, today: Date) -> Result<Page, CatalogError> {
        let limit = query.limit.unwrap_or(20).clamp(1, MAX_PAGE);
        let index = match query.seller {
            Some(s) => seller_index(s),
            None => CATALOG_INDEX.to_owned(),
        };
        let province = query.province.as_deref().map(crate::vn::fold).filter(|p| !p.is_empty());
        let q = query.q.as_deref().unwrap_or_default();
        let mut cursor = query.cursor.clone();
        let mut matched = Vec::new();
        let mut scanned = 0;
        let batch = (limit * 2).clamp(50, 200);
        let mut exhausted = false;
        while matched.len() < limit && scanned < SCAN_CAP {
            let ids = self.state.index_range(&index, cursor.as_deref(), batch).await?;
            if ids.len() < batch {
                exhausted = true;
            }
            if ids.is_empty() {
                break;
            }
            let records = self.records(&ids).await?;
            for (id, record) in ids.iter().zip(records) {
                scanned += 1;
                cursor = Some(id.clone());
                let Some(r) = record else { continue };
                let keep = province.as_ref().is_none_or(|p| crate::vn::fold(&r.province) == *p)
                    && query.group.is_none_or(|g| r.group == g)
                    && query.stars.is_none_or(|s| r.stars == s)
                    && crate::vn::matches_query(&r.search_key, q);
                if keep {
                    matched.push(r);
                    if matched.len() == limit {
                        exhausted = exhausted && id == ids.last().unwrap_or(id);
                        break;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        let items = self.views(matched, today).await?;
        Ok(Page { items, next_cursor: if exhausted { None } else { cursor } })
    }

    async fn records(&self, ids: &[String]) -> Result<Vec<Option<ProductRecord>>, EngineError> {
        let owners =
            self.state.get_many(&ids.iter().map(|id| format!("product:{id}:seller")).collect::<Vec<_>>()).await?;
        let keys: Vec<String> = ids
            .iter()
            .zip(&owners)
            .map(|(id, owner)| {
                let owner = owner.as_ref().and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default();
                format!("{{s:{owner}}}:product:{id}")
            })
            .collect();
        let docs = self.state.get_many(&keys).await?;
        docs.into_iter().map(|d| d.map(|b| decode::<ProductRecord>(&b)).transpose()).collect()
    }

    /// Takes `qty` units of a product (for a combo: of every component), all or nothing.
    pub async fn take_stock(&self, record: &ProductRecord, qty: i64) -> Result<Take, EngineError> {
        self.state.take_all(&stock_moves(record, qty)).await
    }

    /// Returns units taken by [`Catalog::take_stock`] (a cancelled order, an unsold offer).
    pub async fn return_stock(&self, record: &ProductRecord, qty: i64) -> Result<(), EngineError> {
        let back: Vec<(String, i64)> = stock_moves(record, qty).into_iter().map(|(k, q)| (k, -q)).collect();
        match self.state.take_all(&back).await? {
            Take::Taken => Ok(()),
            Take::Short { .. } => Err(EngineError::Internal("returning stock cannot fall short".into())),
        }
    }
}

/// The stock counters one unit of `record` takes from, with how many units of each.
pub fn unit_moves(record: &ProductRecord) -> Vec<(String, i64)> {
    stock_moves(record, 1)
}

fn stock_moves(record: &ProductRecord, qty: i64) -> Vec<(String, i64)> {
    match record.kind {
        ProductKind::Single => vec![(stock_key(record.seller_id, record.id), qty)],
        ProductKind::Combo => record
            .components
            .iter()
            .map(|c| (stock_key(record.seller_id, c.product_id), qty * i64::from(c.qty)))
            .collect(),
    }
}

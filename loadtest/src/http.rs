//! The REST calls the scenarios need for their set-up and checks: sign-in,
//! guests, buyer registration, products, shows, fairs, and the seller's orders.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::Target;

/// A signed-in account: its token and the ids the scenarios use.
#[derive(Debug, Clone)]
pub struct Account {
    pub token: String,
    pub seller_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AuthResponse {
    token: String,
    user: UserJson,
}

#[derive(Debug, Deserialize)]
struct UserJson {
    #[serde(default)]
    seller_id: Option<String>,
}

impl From<AuthResponse> for Account {
    fn from(r: AuthResponse) -> Self {
        Self { token: r.token, seller_id: r.user.seller_id }
    }
}

/// The server's REST API at `http://<host:port>`.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// The REST base of a WebSocket target (same host and port).
    pub fn for_target(target: &Target) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { base: format!("http://{}", target.addr), http })
    }

    async fn send(&self, what: &str, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = req.send().await.with_context(|| format!("{what}: request to {} failed", self.base))?;
        let status = resp.status();
        let body = resp.text().await.with_context(|| format!("{what}: cannot read the response"))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&body)
                .ok()
                .map(|v| {
                    let title = v["title"].as_str().unwrap_or_default().to_owned();
                    let detail = v["detail"].as_str().unwrap_or_default().to_owned();
                    let errors = v.get("errors").map(Value::to_string).unwrap_or_default();
                    format!("{title}: {detail} {errors}")
                })
                .unwrap_or_else(|| body.chars().take(200).collect());
            bail!("{what}: HTTP {status}: {}", detail.trim());
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&body).with_context(|| format!("{what}: response is not JSON"))
    }

    fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let req = self.http.post(format!("{}{path}", self.base)).json(body);
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.get(format!("{}{path}", self.base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// `POST /api/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<Account> {
        let v = self
            .send(
                &format!("sign-in as {email}"),
                self.post("/api/auth/login", None, &json!({ "email": email, "password": password })),
            )
            .await?;
        Ok(serde_json::from_value::<AuthResponse>(v).context("unexpected sign-in response")?.into())
    }

    /// `POST /api/auth/guest`: a chat-only token.
    pub async fn guest(&self, name: &str) -> anyhow::Result<Account> {
        let v = self.send("guest token", self.post("/api/auth/guest", None, &json!({ "name": name }))).await?;
        Ok(serde_json::from_value::<AuthResponse>(v).context("unexpected guest response")?.into())
    }

    /// `POST /api/auth/register` with role `buyer`.
    pub async fn register_buyer(&self, name: &str, email: &str, password: &str) -> anyhow::Result<Account> {
        let body = json!({ "name": name, "email": email, "password": password, "role": "buyer" });
        let v = self.send("buyer registration", self.post("/api/auth/register", None, &body)).await?;
        Ok(serde_json::from_value::<AuthResponse>(v).context("unexpected registration response")?.into())
    }

    /// `POST /api/products` as a seller; returns the product id.
    pub async fn create_product(&self, token: &str, name: &str, price: i64, stock: i64) -> anyhow::Result<String> {
        let body = json!({
            "name": name,
            "unit": "hũ 500g",
            "price": price,
            "stock": stock,
            "province": "Tuyên Quang",
            "group": "food",
            "stars": 4,
            "description": "Sản phẩm dùng cho đo tải",
        });
        let v = self.send("product creation", self.post("/api/products", Some(token), &body)).await?;
        v["product"]["id"].as_str().map(str::to_owned).context("product creation: no product.id in the response")
    }

    /// `POST /api/shows` with one lineup product; returns the show id.
    pub async fn create_show(&self, token: &str, title: &str, product: &str) -> anyhow::Result<String> {
        let body = json!({ "title": title, "stream": { "kind": "none" }, "products": [product] });
        let v = self.send("show creation", self.post("/api/shows", Some(token), &body)).await?;
        v["show"]["id"].as_str().map(str::to_owned).context("show creation: no show.id in the response")
    }

    /// `POST /api/shows/{id}/start`.
    pub async fn start_show(&self, token: &str, show: &str) -> anyhow::Result<()> {
        self.send("show start", self.post(&format!("/api/shows/{show}/start"), Some(token), &json!({}))).await?;
        Ok(())
    }

    /// `GET /api/shows/{id}`: the show object.
    pub async fn get_show(&self, show: &str) -> anyhow::Result<Value> {
        let v = self.send("show lookup", self.get(&format!("/api/shows/{show}"), None)).await?;
        Ok(v["show"].clone())
    }

    /// `GET /api/shows/{id}/summary` as the seller.
    pub async fn show_summary(&self, token: &str, show: &str) -> anyhow::Result<Value> {
        let v = self.send("show summary", self.get(&format!("/api/shows/{show}/summary"), Some(token))).await?;
        Ok(v["summary"].clone())
    }

    /// The stored orders of an offer on a peer server (`GET /orders?offer=<id>`).
    pub async fn peer_orders(&self, offer: &str) -> anyhow::Result<Vec<Value>> {
        let v = self.send("peer orders", self.get(&format!("/orders?offer={offer}"), None)).await?;
        v.as_array().cloned().context("peer orders: not a JSON array")
    }

    /// A peer server's counters for an offer (`GET /summary?offer=<id>&show=<id>`): orders, units.
    pub async fn peer_summary(&self, offer: &str, show: &str) -> anyhow::Result<(i64, i64)> {
        let v = self.send("peer summary", self.get(&format!("/summary?offer={offer}&show={show}"), None)).await?;
        Ok((v["orders"].as_i64().unwrap_or(0), v["units"].as_i64().unwrap_or(0)))
    }

    /// Every order of the signed-in seller, oldest first (`GET /api/seller/orders`,
    /// 1000 a page, following `next_cursor` with `after`).
    pub async fn seller_orders(&self, token: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _page in 0..10_000 {
            let path = match &after {
                Some(a) => format!("/api/seller/orders?limit=1000&after={a}"),
                None => "/api/seller/orders?limit=1000".to_owned(),
            };
            let v = self.send("seller orders", self.get(&path, Some(token))).await?;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            out.extend(items);
            match v["next_cursor"].as_str().filter(|c| !c.is_empty()) {
                Some(c) => after = Some(c.to_owned()),
                None => return Ok(out),
            }
        }
        bail!("seller orders: more than 10,000 pages")
    }

    /// `GET path` (with a token when given): the JSON answer.
    pub async fn get_json(&self, what: &str, path: &str, token: Option<&str>) -> anyhow::Result<Value> {
        self.send(what, self.get(path, token)).await
    }

    /// `POST path` with `body` (with a token when given): the JSON answer.
    pub async fn post_json(&self, what: &str, path: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Value> {
        self.send(what, self.post(path, token, body)).await
    }
}

//! `/t/{trace_code}`: the public traceability page a product's QR code leads to.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::extract::ApiPath;
use crate::catalog::CatalogError;
use crate::domain::product::{Product, ProductGroup};
use crate::domain::seller::{SellerKind, SellerProfile};
use crate::state::AppState;

fn group_name(g: ProductGroup) -> &'static str {
    match g {
        ProductGroup::Food => "Thực phẩm",
        ProductGroup::Drinks => "Đồ uống",
        ProductGroup::Herbal => "Thảo dược",
        ProductGroup::Handicraft => "Thủ công mỹ nghệ",
        ProductGroup::Ornamental => "Sinh vật cảnh",
        ProductGroup::Tourism => "Dịch vụ du lịch cộng đồng",
    }
}

fn kind_name(k: SellerKind) -> &'static str {
    match k {
        SellerKind::Cooperative => "Hợp tác xã",
        SellerKind::Household => "Hộ sản xuất",
        SellerKind::Enterprise => "Doanh nghiệp",
    }
}

fn vnd(amount: i64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    format!("{out} đ")
}

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="vi" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f2;color:#1d2a1d}\
main{max-width:640px;margin:0 auto;padding:16px}h1{font-size:1.4rem;margin:.2em 0}\
.stars{color:#c98a00;font-size:1.3rem}.card{background:#fff;border-radius:12px;padding:16px;margin:12px 0;\
box-shadow:0 1px 3px #0002}.expired{color:#b00020;font-weight:600}dl{display:grid;grid-template-columns:auto 1fr;\
gap:4px 12px}dt{color:#5a665a}.story{white-space:pre-line;line-height:1.5}";

fn product_page(p: &Product, seller: Option<&SellerProfile>) -> Markup {
    let stars = "★".repeat(usize::from(p.stars));
    page(
        &format!("{} — truy xuất nguồn gốc OCOP", p.name),
        html! {
            p { "Truy xuất nguồn gốc sản phẩm OCOP · mã " code { (p.trace_code) } }
            h1 { (p.name) }
            p.stars title=(format!("{} sao OCOP", p.stars)) { (stars) " " small { (p.stars) " sao OCOP" }
                @if p.potential_five_star { " · tiềm năng 5 sao" } }
            div.card {
                dl {
                    dt { "Nhóm" } dd { (group_name(p.group)) }
                    dt { "Nơi sản xuất" } dd { (p.province) }
                    dt { "Quy cách" } dd { (p.unit) }
                    dt { "Giá niêm yết" } dd { (vnd(p.price)) }
                }
            }
            @if let Some(s) = seller {
                div.card {
                    h2 { "Chủ thể sản xuất" }
                    p { strong { (s.display_name) } " · " (kind_name(s.kind)) }
                    p { (s.commune) @if !s.commune.is_empty() && !s.province.is_empty() { ", " } (s.province) }
                    @if !s.intro.is_empty() { p { (s.intro) } }
                }
            }
            div.card {
                h2 { "Chứng nhận OCOP" }
                @match &p.certificate {
                    Some(c) => {
                        dl {
                            dt { "Số" } dd { (c.number) }
                            dt { "Cơ quan cấp" } dd { (c.issued_by) }
                            dt { "Ngày cấp" } dd { (c.issued_at) }
                            dt { "Hiệu lực đến" } dd { (c.expires_at) }
                        }
                        @if p.certificate_expired { p.expired { "Giấy chứng nhận đã hết hiệu lực." } }
                    }
                    None => { p { "Chưa khai báo giấy chứng nhận." } }
                }
            }
            @if !p.story.is_empty() {
                div.card { h2 { "Câu chuyện sản phẩm" } p.story { (p.story) } }
            }
        },
    )
}

/// The traceability page; an unknown code is a plain 404 page.
pub async fn trace_page(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Response {
    let today = state.clock.today_in_vietnam();
    let html_response = |status: StatusCode, markup: Markup| {
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
    };
    match state.catalog.by_trace_code(&code, today).await {
        Ok(product) => {
            let seller = state.catalog.seller(product.seller_id).await.ok();
            html_response(StatusCode::OK, product_page(&product, seller.as_ref()))
        }
        Err(CatalogError::NotFound) => html_response(
            StatusCode::NOT_FOUND,
            page("Không tìm thấy", html! { h1 { "Không tìm thấy sản phẩm" } p { "Mã truy xuất không đúng." } }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "trace page unavailable");
            html_response(
                StatusCode::SERVICE_UNAVAILABLE,
                page("Tạm thời gián đoạn", html! { h1 { "Tạm thời gián đoạn" } p { "Vui lòng thử lại sau." } }),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn vnd_groups_thousands() {
        assert_eq!(super::vnd(390_000), "390.000 đ");
        assert_eq!(super::vnd(1_090_000), "1.090.000 đ");
        assert_eq!(super::vnd(500), "500 đ");
    }
}

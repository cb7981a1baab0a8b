//! The catalog service on both engines: the same behaviour in memory and on Redis.

use ocop_live::catalog::{Catalog, ProductQuery};
use ocop_live::domain::product::{Component, ProductGroup, ProductInput, ProductKind};
use ocop_live::engine::Take;
use time::macros::date;
use uuid::Uuid;

use crate::engine::Backend;

fn input(name: &str, stock: i64, province: &str) -> ProductInput {
    ProductInput {
        name: name.into(),
        unit: "gói 200g".into(),
        price: 120_000,
        stock: Some(stock),
        province: province.into(),
        group: ProductGroup::Drinks,
        stars: 4,
        ..Default::default()
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::memory(100).await).await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::redis(100).await).await } )*
        }
    };
}

both!(products_round_trip_with_stock, search_and_pages_agree, combos_move_stock_atomically);

async fn products_round_trip_with_stock(b: Backend) {
    let catalog = Catalog::new(b.engine.state.clone());
    let seller = Uuid::now_v7();
    let today = date!(2026 - 11 - 29);
    let p = catalog.create_product(seller, &input("Trà Shan tuyết", 12, "Tuyên Quang"), "t0", today).await.unwrap();
    let got = catalog.product(p.id, today).await.unwrap();
    assert_eq!(got, p);
    assert_eq!(got.stock, 12);
    let by_code = catalog.by_trace_code(&p.trace_code, today).await.unwrap();
    assert_eq!(by_code.id, p.id);
    assert!(catalog.by_trace_code("NOPE", today).await.is_err());
    assert!(catalog.product(Uuid::now_v7(), today).await.is_err());
}

async fn search_and_pages_agree(b: Backend) {
    let catalog = Catalog::new(b.engine.state.clone());
    let seller = Uuid::now_v7();
    let today = date!(2026 - 11 - 29);
    for i in 0..30 {
        let province = if i % 3 == 0 { "Đắk Lắk" } else { "Tuyên Quang" };
        catalog.create_product(seller, &input(&format!("Cà phê số {i}"), 1, province), "t", today).await.unwrap();
    }
    let mut query = ProductQuery { province: Some("dak lak".into()), limit: Some(4), ..Default::default() };
    let mut names = Vec::new();
    loop {
        let page = catalog.list(&query, today).await.unwrap();
        names.extend(page.items.into_iter().map(|p| p.name));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).filter(|i| i % 3 == 0).map(|i| format!("Cà phê số {i}")).collect();
    assert_eq!(names, expected);
    let q = ProductQuery { q: Some("ca phe so 2".into()), ..Default::default() };
    let found: Vec<String> = catalog.list(&q, today).await.unwrap().items.into_iter().map(|p| p.name).collect();
    assert_eq!(
        found,
        vec![
            "Cà phê số 2",
            "Cà phê số 20",
            "Cà phê số 21",
            "Cà phê số 22",
            "Cà phê số 23",
            "Cà phê số 24",
            "Cà phê số 25",
            "Cà phê số 26",
            "Cà phê số 27",
            "Cà phê số 28",
            "Cà phê số 29"
        ]
    );
}

async fn combos_move_stock_atomically(b: Backend) {
    let catalog = Catalog::new(b.engine.state.clone());
    let seller = Uuid::now_v7();
    let today = date!(2026 - 11 - 29);
    let honey = catalog.create_product(seller, &input("Mật ong", 10, "Tuyên Quang"), "t", today).await.unwrap();
    let tea = catalog.create_product(seller, &input("Trà", 5, "Tuyên Quang"), "t", today).await.unwrap();
    let combo_input = ProductInput {
        kind: Some(ProductKind::Combo),
        stock: None,
        components: Some(vec![Component { product_id: honey.id, qty: 2 }, Component { product_id: tea.id, qty: 1 }]),
        ..input("Giỏ quà", 0, "Tuyên Quang")
    };
    let combo = catalog.create_product(seller, &combo_input, "t", today).await.unwrap();
    assert_eq!(combo.stock, 5);
    let record = catalog.record(combo.id).await.unwrap();
    assert_eq!(catalog.take_stock(&record, 3).await.unwrap(), Take::Taken);
    assert_eq!(catalog.take_stock(&record, 3).await.unwrap(), Take::Short { index: 0, available: 4 });
    assert_eq!(catalog.product(honey.id, today).await.unwrap().stock, 4);
    assert_eq!(catalog.product(tea.id, today).await.unwrap().stock, 2);
    assert_eq!(catalog.product(combo.id, today).await.unwrap().stock, 2);
    catalog.return_stock(&record, 3).await.unwrap();
    assert_eq!(catalog.product(combo.id, today).await.unwrap().stock, 5);
}

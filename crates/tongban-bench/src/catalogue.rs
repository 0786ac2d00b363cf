//! `tongban-bench catalogue`: search latency over a large catalogue.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tongban_service::{Service, ServiceConfig, samples};
use tongban_store::{CatalogueEntry, CatalogueField, CatalogueFilter, DatabaseConfig};

use crate::measure::{percentile, say, warn_if_debug};
use crate::output::print_json;
use crate::progress;

#[derive(Debug, Args)]
pub struct CatalogueBenchArgs {
    /// Resources in the catalogue.
    #[arg(long, default_value_t = 100_000)]
    resources: usize,
    /// Searches to time.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// An empty PostgreSQL database (postgres://…) instead of a temporary SQLite file.
    #[arg(long)]
    database: Option<String>,
}

/// Subjects of government data resources, as departments name them.
const SUBJECTS: &[&str] = &[
    "营业执照",
    "婚姻登记",
    "老年人优待证",
    "出生医学证明",
    "社会保险参保",
    "不动产登记",
    "食品经营许可",
    "道路运输许可",
    "建筑工程施工许可",
    "残疾人证",
    "医师执业注册",
    "药品经营许可",
    "排污许可",
    "户籍人口",
    "住房公积金",
    "最低生活保障",
    "特困人员供养",
    "退役军人优待",
    "企业年度报告",
    "个体工商户",
    "农村土地承包",
    "林木采伐许可",
    "烟草专卖许可",
    "消防安全检查",
    "卫生许可",
    "教师资格",
    "律师执业",
    "学历学位",
    "疫苗接种",
    "死亡医学证明",
    "殡葬服务",
    "养老服务补贴",
    "高龄津贴",
    "就业失业登记",
    "职业技能等级",
    "工伤认定",
    "税务登记",
    "发票领用",
    "车辆登记",
    "驾驶证",
];
const PLACES: &[&str] = &[
    "花都区",
    "新华街道",
    "秀全街道",
    "新雅街道",
    "花城街道",
    "狮岭镇",
    "炭步镇",
    "赤坭镇",
    "梯面镇",
    "花东镇",
    "清城区",
    "南县",
];
const KINDS: &[&str] = &[
    "信息", "记录", "名单", "数据", "明细", "统计", "台账", "目录",
];
const FREQUENCIES: &[&str] = &[
    "real-time",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
];
const SHARING: &[&str] = &["unconditional", "conditional", "not-shared"];

/// Queries a department's staff type: whole subjects, two terms, two
/// characters, one character, with a provider filter now and then.
fn queries(n: usize) -> Vec<(String, Option<&'static str>)> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0usize;
    while out.len() < n {
        let s = SUBJECTS[i % SUBJECTS.len()];
        let chars: Vec<char> = s.chars().collect();
        let q = match i % 5 {
            0 => s.to_owned(),
            1 => format!("{} {}", PLACES[i % PLACES.len()], s),
            2 => chars[..2].iter().collect(),
            3 => format!(
                "{} {}",
                chars[..2].iter().collect::<String>(),
                KINDS[i % KINDS.len()]
            ),
            _ => chars[chars.len() - 1].to_string(),
        };
        let provider = (i % 7 == 0).then_some(samples::CIVIL_AFFAIRS);
        out.push((q, provider));
        i += 1;
    }
    out
}

fn entry(i: usize, now: time::OffsetDateTime) -> CatalogueEntry {
    // A cheap deterministic spread (no RNG needed for a catalogue).
    let h = i.wrapping_mul(2_654_435_761) >> 7;
    let subject = SUBJECTS[h % SUBJECTS.len()];
    let other = SUBJECTS[(h / 7) % SUBJECTS.len()];
    let place = PLACES[(h / 3) % PLACES.len()];
    let kind = KINDS[(h / 11) % KINDS.len()];
    let providers = [
        samples::MARKET,
        samples::CIVIL_AFFAIRS,
        samples::PLANNING,
        samples::DATA_BUREAU,
        samples::DISABLED_FEDERATION,
        samples::XINHUA_STREET,
    ];
    CatalogueEntry {
        id: format!("res-{i:06}"),
        version: 1,
        name: format!("{place}{subject}{kind}（第{}批）", i % 97 + 1),
        description: format!(
            "{place}办理{subject}业务形成的{kind}，与{other}相关联，按规定向有关部门共享，用于跨部门核验和全域通办。"
        ),
        provider: providers[(h / 13) % providers.len()].to_owned(),
        region_code: samples::REGION.to_owned(),
        schema: "business-registration@1".into(),
        fields: vec![
            CatalogueField {
                name: "uscc".into(),
                label: "统一社会信用代码".into(),
            },
            CatalogueField {
                name: "entityName".into(),
                label: format!("{subject}主体名称"),
            },
        ],
        sharing_type: SHARING[(h / 17) % SHARING.len()].to_owned(),
        update_frequency: FREQUENCIES[(h / 19) % FREQUENCIES.len()].to_owned(),
        tags: vec![subject.to_owned(), other.to_owned(), place.to_owned()],
        status: "published".into(),
        created_at: now,
        updated_at: now,
    }
}

pub async fn run(args: CatalogueBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("catalogue");
    let temp = tempfile::tempdir()?;
    let mut config = ServiceConfig::embedded(temp.path());
    if let Some(url) = &args.database {
        config.store.database = DatabaseConfig::parse(url);
    }
    let hub = Service::open(&config).await?;
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
    let backend = if args.database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    anyhow::ensure!(
        hub.catalogue_list(&CatalogueFilter::default(), 1)
            .await?
            .is_empty(),
        "the catalogue in this database is not empty: give an empty database"
    );
    say(
        json,
        &format!("loading {} resources into {backend} ...", args.resources),
    );
    let load_rate = load(&hub, args.resources, json).await?;
    say(
        json,
        &format!("timing {} searches (20 results each) ...", args.queries),
    );
    let searches = time_searches(&hub, &queries(args.queries)).await?;
    hub.close().await;
    if json {
        print_json(&searches.to_json(backend, args.resources, load_rate))
    } else {
        searches.print(backend, args.resources, load_rate);
        Ok(())
    }
}

/// Loads `resources` synthetic entries, 2,000 per write; entries per second.
async fn load(hub: &Service, resources: usize, json: bool) -> anyhow::Result<f64> {
    let now = time::OffsetDateTime::now_utc();
    let started = Instant::now();
    let bar = progress::bar(json, resources as u64, "resources");
    let mut done = 0;
    while done < resources {
        let n = (resources - done).min(2_000);
        let batch: Vec<CatalogueEntry> = (done..done + n).map(|i| entry(i, now)).collect();
        hub.store().put_catalogue_entries(&batch, &[]).await?;
        done += n;
        bar.set_position(done as u64);
    }
    bar.finish_and_clear();
    Ok(resources as f64 / started.elapsed().as_secs_f64())
}

/// The timed searches: sorted latencies, the slowest, what they found.
struct Searches {
    queries: usize,
    latencies: Vec<Duration>,
    /// (latency, query, by provider, results), slowest first, each query once.
    slowest: Vec<(Duration, String, bool, usize)>,
    hits: usize,
    empty: usize,
}

/// Times each query (after one warm-up pass over the distinct ones).
async fn time_searches(
    hub: &Service,
    qs: &[(String, Option<&'static str>)],
) -> anyhow::Result<Searches> {
    for (q, _) in qs.iter().take(SUBJECTS.len() * 5) {
        hub.catalogue_search(q, &CatalogueFilter::default(), 20)
            .await?;
    }
    let mut latencies = Vec::with_capacity(qs.len());
    let mut slowest = Vec::with_capacity(qs.len());
    let mut hits = 0usize;
    let mut empty = 0usize;
    for (q, provider) in qs {
        let filter = CatalogueFilter {
            provider: provider.map(str::to_owned),
            ..Default::default()
        };
        let t = Instant::now();
        let found = hub.catalogue_search(q, &filter, 20).await?;
        latencies.push(t.elapsed());
        slowest.push((t.elapsed(), q.clone(), provider.is_some(), found.len()));
        hits += found.len();
        empty += usize::from(found.is_empty());
    }
    latencies.sort();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    slowest.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
    Ok(Searches {
        queries: qs.len(),
        latencies,
        slowest,
        hits,
        empty,
    })
}

impl Searches {
    fn mean_results(&self) -> f64 {
        self.hits as f64 / self.queries.max(1) as f64
    }

    fn to_json(&self, backend: &str, resources: usize, load_rate: f64) -> Value {
        json!({
            "backend": backend,
            "resources": resources,
            "loadPerSec": load_rate.round(),
            "queries": self.queries,
            "meanResults": self.mean_results(),
            "emptyResults": self.empty,
            "latencyMs": {
                "p50": percentile(&self.latencies, 0.50),
                "p99": percentile(&self.latencies, 0.99),
                "max": percentile(&self.latencies, 1.0),
            },
        })
    }

    fn print(&self, backend: &str, resources: usize, load_rate: f64) {
        println!();
        println!("catalogue search, {backend}, {resources} resources (loaded at {load_rate:.0}/s)");
        println!(
            "{} searches (Chinese terms of 1–6 characters, one or two terms, some by provider), {:.1} results on average, {} with none",
            self.queries,
            self.mean_results(),
            self.empty
        );
        println!(
            "latency   p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            percentile(&self.latencies, 0.50),
            percentile(&self.latencies, 0.99),
            percentile(&self.latencies, 1.0)
        );
        println!("slowest:");
        for (d, q, by_provider, n) in self.slowest.iter().take(5) {
            println!(
                "  {:>8.2} ms  {q:?}{}  ({n} results)",
                d.as_secs_f64() * 1000.0,
                if *by_provider { " by provider" } else { "" }
            );
        }
    }
}

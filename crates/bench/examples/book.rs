//! Prints BOOK-A and BOOK-B figures for our book and matchcore.
//! Run: `taskset -c 1 cargo run --release -p bulwark-bench --example book`

fn main() -> Result<(), bulwark_bench::BenchError> {
    let results = bulwark_bench::run("book", &bulwark_bench::BenchOptions::default())?;
    println!("{}", bulwark_bench::MARKDOWN_HEADER);
    for result in &results {
        println!("{}", result.markdown_row());
    }
    Ok(())
}

fn main() {
    modutils::run(modutils::modinfo::main)
}

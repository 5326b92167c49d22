fn main() {
    modutils::run(modutils::depmod::main)
}

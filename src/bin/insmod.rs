fn main() {
    modutils::run(modutils::insmod::main)
}

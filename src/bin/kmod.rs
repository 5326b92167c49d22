#![no_main]
modutils::entry!(modutils::kmod::main);

#![no_main]
modutils::entry!(modutils::modinfo::main);

#![no_main]
modutils::entry!(modutils::depmod::main);

#![no_main]
modutils::entry!(modutils::insmod::main);

"""Broken on purpose: the process dies (SIGSEGV) while the module loads, as a native
extension built for another CPU might. cvat-fn loads it in a child process first, so only
sdk_module fails and pytest goes on."""

import ctypes

ctypes.string_at(0)  # reads address 0: a segmentation fault

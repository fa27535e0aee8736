/* A helper library whose one symbol is defined under the version GLIBCXX_99.0
 * (versioned_helper.map), so that a kernel linked against it needs a GLIBCXX version that no
 * host's libstdc++ provides: the loader must refuse it before dlopen. */
__attribute__((visibility("default"))) int kget_test_helper_value(void);
__attribute__((visibility("default"))) int kget_test_helper_value(void) {
  return 0;
}

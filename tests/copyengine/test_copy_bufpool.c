/* test_copy_bufpool.c - a worker's buffer pool (copyengine/bufpool.c).
 * Checked: a buffer given back is taken again without a new allocation,
 * also after a burst that held more than the cap (the pool bounds what it
 * holds, out and cached together, not its cache alone); what it holds
 * stays within the cap, or the buffers out, when a new buffer of another
 * class is needed (cached buffers of other classes are freed for it); the
 * buffers are page aligned and as large as asked. */
#include <stdint.h>
#include <string.h>

#include "bufpool.h"
#include "testutil.h"

enum { K4 = 4096, K32 = 32768, M1 = 1 << 20 };

static void test_bufpool_reuses_after_a_burst(void **state) {
  (void)state;
  ce_bufpool p;
  ce_bufpool_init(&p, 8 * K32);
  void *b[32];
  /* A burst of 32 buffers of 32 KiB: four times the cap. */
  for (int i = 0; i < 32; i++) {
    b[i] = ce_bufpool_get(&p, K32);
    assert_non_null(b[i]);
    assert_int_equal((uintptr_t)b[i] % 4096, 0);
    memset(b[i], 0xa5, K32);
  }
  assert_int_equal(p.allocs, 32);
  for (int i = 0; i < 32; i++) ce_bufpool_put(&p, b[i], K32);
  /* The next burst of the same class allocates nothing. */
  for (int i = 0; i < 32; i++) b[i] = ce_bufpool_get(&p, 20000);
  assert_int_equal(p.allocs, 32);
  for (int i = 0; i < 32; i++) ce_bufpool_put(&p, b[i], 20000);
  ce_bufpool_destroy(&p);
  assert_int_equal(p.cached, 0);
}

static void test_bufpool_frees_other_classes_for_room(void **state) {
  (void)state;
  ce_bufpool p;
  ce_bufpool_init(&p, 2 * M1);
  void *small[512];
  for (int i = 0; i < 512; i++) small[i] = ce_bufpool_get(&p, K4);
  for (int i = 0; i < 512; i++) ce_bufpool_put(&p, small[i], K4);
  assert_int_equal(p.cached, 512 * K4);
  /* Two 1 MiB buffers: the cached 4 KiB ones make room. */
  void *big = ce_bufpool_get(&p, M1);
  void *big2 = ce_bufpool_get(&p, M1);
  memset(big, 1, M1);
  memset(big2, 2, M1);
  assert_true(p.out + p.cached <= 2 * M1);
  assert_int_equal(p.out, 2 * M1);
  ce_bufpool_put(&p, big, M1);
  ce_bufpool_put(&p, big2, M1);
  /* Out alone above the cap: the pool holds no more than is out. */
  void *b[4];
  for (int i = 0; i < 4; i++) b[i] = ce_bufpool_get(&p, M1);
  assert_int_equal(p.out, 4 * M1);
  assert_int_equal(p.cached, 0);
  for (int i = 0; i < 4; i++) ce_bufpool_put(&p, b[i], M1);
  ce_bufpool_destroy(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bufpool_reuses_after_a_burst),
      cmocka_unit_test(test_bufpool_frees_other_classes_for_room),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_dict_unix.c - unix:passwd.byname and unix:group.byname. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

#include <grp.h>
#include <pwd.h>
#include <ctype.h>

static void test_passwd(void **state)
{
    (void) state;
    char *err = 0, want[1024];
    dict *d = dict_open("unix:passwd.byname", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_non_null(d);
    struct passwd *pw = getpwuid(0);
    snprintf(want, sizeof(want), "%s:%s:0:%ld:%s:%s:%s", pw->pw_name, pw->pw_passwd,
             (long) pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
    char name[256];
    snprintf(name, sizeof(name), "%s", pw->pw_name);
    assert_string_equal(dict_lookup(d, name), want);
    for (char *c = name; *c; c++)
        *c = (char) toupper((unsigned char) *c);
    assert_string_equal(dict_lookup(d, name), want);            /* folded */
    assert_null(dict_lookup(d, "no-such-user-hk"));
    assert_int_equal(d->error, DICT_ERR_NONE);
    dict_close(d);
}

static void test_group(void **state)
{
    (void) state;
    char *err = 0, want[1024];
    dict *d = dict_open("unix:group.byname", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    struct group *gr = getgrgid(0);
    snprintf(want, sizeof(want), "%s:%s:0:", gr->gr_name, gr->gr_passwd);
    const char *v = dict_lookup(d, gr->gr_name);
    assert_non_null(v);
    assert_memory_equal(v, want, strlen(want));
    assert_null(dict_lookup(d, "no-such-group-hk"));
    dict_close(d);
    assert_null(dict_open("unix:shadow.byname", O_RDONLY, 0, &err));
    assert_string_equal(err, "unknown table: unix:shadow.byname");
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passwd),
        cmocka_unit_test(test_group),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}

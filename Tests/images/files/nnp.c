/* Equivalent of kubernetes test/images/nonewprivs: prints the effective uid.
 * Installed setuid-root, so it prints 0 unless no_new_privs is set.
 * Built with: gcc -static -Os -s -o nnp nnp.c */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("Effective uid: %d\n", (int)geteuid());
    return 0;
}

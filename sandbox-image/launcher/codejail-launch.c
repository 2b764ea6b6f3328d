/*
 * codejail-launch: the one privileged step of the codejail service.
 *
 * The web process runs as an ordinary user. This program is installed set-user-ID root and
 * executable only by the web user's group (provision.sh), and does exactly five things for it,
 * each limited to what the root-owned configuration file allows:
 *
 *   codejail-launch prepare SLOT DIR
 *       Give the execution directory DIR and DIR/tmp to the slot's sandbox uid.
 *   codejail-launch run SLOT DIR PROGRAM [ARG...]
 *       Give the execution directory DIR (and DIR/tmp) to the slot's sandbox uid, make it the
 *       working directory, drop to that uid and gid with no supplementary groups, and execute
 *       PROGRAM, which must be the configured sandbox interpreter.
 *   codejail-launch kill SLOT
 *       Send SIGKILL to every process of the slot's uid: kill(-1) sent as that uid.
 *   codejail-launch clean SLOT DIR
 *       Delete DIR's contents as the slot's uid (which owns them), then DIR itself.
 *   codejail-launch template PROGRAM -I -B SCRIPT [ARG...]
 *       Execute the configured interpreter on the configured template script as root; the
 *       template drops to its own uid at once and keeps only CAP_SETUID and CAP_SETGID.
 *
 * Programs it starts get a fixed environment (PATH, LANG, OPENBLAS_NUM_THREADS, and for `run`
 * HOME and TMPDIR in DIR/tmp), never the caller's.
 * DIR must be a directory named exec-* directly under the execution root or under one of its
 * slot-N filesystems, reached without following symbolic links. SLOT must be below uid_count.
 * Nothing is read from the environment; the configuration is /etc/codejail/launcher.conf, which
 * must be owned by root and writable by nobody else. Keep its keys in sync with provision.sh.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONFIG_PATH "/etc/codejail/launcher.conf"
#define EXIT_USAGE 64
#define EXIT_REFUSED 77
#define KILL_PASSES 50

struct config {
    unsigned long uid_base;
    unsigned long uid_count;
    unsigned long gid;
    char exec_root[PATH_MAX];
    char python[PATH_MAX];
    char template_script[PATH_MAX];
};

static void die(int status, const char *what) {
    fprintf(stderr, "codejail-launch: %s: %s\n", what, errno ? strerror(errno) : "refused");
    exit(status);
}

static void refuse(const char *what) {
    errno = 0;
    die(EXIT_REFUSED, what);
}

/* Reads key=value lines; the file must be root-owned and not writable by group or others. */
static void read_config(struct config *config) {
    memset(config, 0, sizeof(*config));
    int fd = open(CONFIG_PATH, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        die(EXIT_REFUSED, "cannot read " CONFIG_PATH);
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        refuse(CONFIG_PATH " must be owned by root and writable only by root");
    }

    FILE *file = fdopen(fd, "r");
    char line[PATH_MAX + 64];
    while (file != NULL && fgets(line, sizeof(line), file) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *value = strchr(line, '=');
        if (line[0] == '#' || value == NULL) {
            continue;
        }
        *value++ = '\0';
        if (strcmp(line, "uid_base") == 0) {
            config->uid_base = strtoul(value, NULL, 10);
        } else if (strcmp(line, "uid_count") == 0) {
            config->uid_count = strtoul(value, NULL, 10);
        } else if (strcmp(line, "gid") == 0) {
            config->gid = strtoul(value, NULL, 10);
        } else if (strcmp(line, "exec_root") == 0) {
            snprintf(config->exec_root, sizeof(config->exec_root), "%s", value);
        } else if (strcmp(line, "python") == 0) {
            snprintf(config->python, sizeof(config->python), "%s", value);
        } else if (strcmp(line, "template_script") == 0) {
            snprintf(config->template_script, sizeof(config->template_script), "%s", value);
        }
    }
    if (config->uid_base < 1000 || config->uid_count == 0 || config->gid < 1000 ||
        config->exec_root[0] != '/' || config->python[0] != '/') {
        refuse(CONFIG_PATH " lacks uid_base, uid_count, gid, exec_root or python");
    }
    if (file != NULL) {
        fclose(file);
    }
}

static uid_t slot_uid(const struct config *config, const char *text) {
    char *end = NULL;
    errno = 0;
    unsigned long slot = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || slot >= config->uid_count) {
        refuse("SLOT is not a slot of the configured uid pool");
    }
    return (uid_t)(config->uid_base + slot);
}

/* Switches all user and group ids to the sandbox identity, irrevocably. */
static void become(uid_t uid, gid_t gid) {
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
        die(EXIT_REFUSED, "switching to the sandbox uid failed");
    }
    if (setuid(0) == 0 || getuid() != uid || geteuid() != uid || getgid() != gid) {
        refuse("the sandbox uid could regain root");
    }
}

/*
 * Opens DIR without following links. Its parent must be the execution root or a slot-N
 * directory directly under it, and its name must start with exec-.
 */
static int open_exec_dir(const struct config *config, const char *dir) {
    size_t root_length = strlen(config->exec_root);
    if (strncmp(dir, config->exec_root, root_length) != 0 || dir[root_length] != '/') {
        refuse("DIR is not under the execution root");
    }
    const char *rest = dir + root_length + 1;
    const char *slash = strchr(rest, '/');
    const char *name = rest;
    char slot_dir[NAME_MAX + 1] = "";
    if (slash != NULL) {
        size_t length = (size_t)(slash - rest);
        if (length > NAME_MAX || strncmp(rest, "slot-", 5) != 0) {
            refuse("DIR is not in a slot-N directory of the execution root");
        }
        memcpy(slot_dir, rest, length);
        slot_dir[length] = '\0';
        name = slash + 1;
    }
    if (strncmp(name, "exec-", 5) != 0 || strchr(name, '/') != NULL ||
        strstr(name, "..") != NULL) {
        refuse("DIR is not named exec-* directly under its parent");
    }

    int parent = open(config->exec_root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (parent >= 0 && slot_dir[0] != '\0') {
        int slot = openat(parent, slot_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(parent);
        parent = slot;
    }
    int fd = parent < 0 ? -1 : openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        die(EXIT_REFUSED, "cannot open DIR");
    }
    close(parent);
    return fd;
}

/*
 * Replaces the caller's environment with a fixed one, so that nothing the web process sets (a
 * loader or interpreter variable) reaches a program this launcher starts. With `dir`, HOME and
 * TMPDIR point at the execution's scratch directory, as the service sets them.
 */
static void set_environment(const char *dir) {
    char scratch[PATH_MAX];
    if (clearenv() != 0 || setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1) != 0 ||
        setenv("LANG", "C.UTF-8", 1) != 0 || setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) {
        die(EXIT_REFUSED, "setting the environment failed");
    }
    if (dir == NULL) {
        return;
    }
    if (snprintf(scratch, sizeof(scratch), "%s/tmp", dir) >= (int)sizeof(scratch) ||
        setenv("HOME", scratch, 1) != 0 || setenv("TMPDIR", scratch, 1) != 0) {
        die(EXIT_REFUSED, "setting HOME and TMPDIR failed");
    }
}

/* Opens DIR and gives it and DIR/tmp to the uid; returns the open directory. */
static int give_dir(const struct config *config, uid_t uid, const char *path) {
    int dir = open_exec_dir(config, path);
    int scratch = openat(dir, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (scratch < 0 || fchown(scratch, uid, (gid_t)config->gid) != 0 ||
        fchown(dir, uid, (gid_t)config->gid) != 0) {
        die(EXIT_REFUSED, "giving DIR to the sandbox uid failed");
    }
    close(scratch);
    return dir;
}

static int prepare(const struct config *config, int argc, char **argv) {
    if (argc != 4) {
        errno = 0;
        die(EXIT_USAGE, "usage: prepare SLOT DIR");
    }
    close(give_dir(config, slot_uid(config, argv[2]), argv[3]));
    return 0;
}

static int run(const struct config *config, int argc, char **argv) {
    if (argc < 5) {
        errno = 0;
        die(EXIT_USAGE, "usage: run SLOT DIR PROGRAM [ARG...]");
    }
    uid_t uid = slot_uid(config, argv[2]);
    if (strcmp(argv[4], config->python) != 0) {
        refuse("PROGRAM is not the configured sandbox interpreter");
    }

    int dir = give_dir(config, uid, argv[3]);
    if (fchdir(dir) != 0) {
        die(EXIT_REFUSED, "entering DIR failed");
    }
    close(dir);

    set_environment(argv[3]);

    become(uid, (gid_t)config->gid);
    execv(argv[4], &argv[4]);
    die(EXIT_REFUSED, "executing the interpreter failed");
    return EXIT_REFUSED;
}

static int kill_all(const struct config *config, int argc, char **argv) {
    if (argc != 3) {
        errno = 0;
        die(EXIT_USAGE, "usage: kill SLOT");
    }
    become(slot_uid(config, argv[2]), (gid_t)config->gid);

    /* kill(-1) reaches every process this uid may signal, and never the caller itself. It
     * keeps succeeding while killed processes wait to be reaped, hence the bounded loop. */
    for (int pass = 0; pass < KILL_PASSES; pass++) {
        if (kill(-1, SIGKILL) != 0 && errno == ESRCH) {
            return 0;
        }
        usleep(2000);
    }
    return 0;
}

/* Deletes everything beneath the directory open at `fd`, without following links. */
static int remove_contents(int fd) {
    DIR *stream = fdopendir(fd);
    if (stream == NULL) {
        close(fd);
        return -1;
    }
    int status = 0;
    struct dirent *entry;
    while ((entry = readdir(stream)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
            continue;
        }
        if (unlinkat(fd, entry->d_name, 0) == 0) {
            continue;
        }
        /* A directory: make it searchable (the code may have removed that), empty it, remove it. */
        (void)!fchmodat(fd, entry->d_name, S_IRWXU, 0);
        int child = openat(fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0 || remove_contents(child) != 0 || unlinkat(fd, entry->d_name, AT_REMOVEDIR) != 0) {
            status = -1;
        }
    }
    closedir(stream);
    return status;
}

static int clean(const struct config *config, int argc, char **argv) {
    if (argc != 4) {
        errno = 0;
        die(EXIT_USAGE, "usage: clean SLOT DIR");
    }
    uid_t uid = slot_uid(config, argv[2]);
    int dir = open_exec_dir(config, argv[3]);

    /* The contents belong to the sandbox uid, so a child running as that uid deletes them. The
     * directory's own entry lies in a parent the sandbox uid may not write, so root removes it. */
    pid_t child = fork();
    if (child == 0) {
        become(uid, (gid_t)config->gid);
        (void)!fchmod(dir, S_IRWXU);
        _exit(remove_contents(dir) == 0 ? 0 : 1);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        die(EXIT_REFUSED, "deleting the contents of DIR failed");
    }
    close(dir);
    if (rmdir(argv[3]) != 0) {
        die(EXIT_REFUSED, "removing DIR failed");
    }
    return 0;
}

static int template(const struct config *config, int argc, char **argv) {
    /* Exactly: PROGRAM -I -B SCRIPT [ARG...]. -I keeps PYTHON* variables and the user's site
     * directory out of a process that starts as root. */
    if (argc < 6 || strcmp(argv[2], config->python) != 0 || strcmp(argv[3], "-I") != 0 ||
        strcmp(argv[4], "-B") != 0 || config->template_script[0] != '/' ||
        strcmp(argv[5], config->template_script) != 0) {
        refuse("expected: template PROGRAM -I -B SCRIPT, with the configured interpreter and script");
    }
    set_environment(NULL);
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
        die(EXIT_REFUSED, "becoming root failed");
    }
    execv(argv[2], &argv[2]);
    die(EXIT_REFUSED, "executing the template failed");
    return EXIT_REFUSED;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        errno = 0;
        die(EXIT_USAGE, "usage: prepare | run | kill | clean | template (see the source's header)");
    }
    struct config config;
    read_config(&config);

    if (strcmp(argv[1], "prepare") == 0) {
        return prepare(&config, argc, argv);
    }
    if (strcmp(argv[1], "run") == 0) {
        return run(&config, argc, argv);
    }
    if (strcmp(argv[1], "kill") == 0) {
        return kill_all(&config, argc, argv);
    }
    if (strcmp(argv[1], "clean") == 0) {
        return clean(&config, argc, argv);
    }
    if (strcmp(argv[1], "template") == 0) {
        return template(&config, argc, argv);
    }
    errno = 0;
    die(EXIT_USAGE, "unknown mode; expected prepare, run, kill, clean or template");
    return EXIT_USAGE;
}

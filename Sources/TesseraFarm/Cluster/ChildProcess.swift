import Foundation

/// A child process started with posix_spawn and reaped with waitpid. Foundation's `Process` was seen to
/// miss the exit of a short-lived child here (a zombie it never reaped), so tessera starts its helper
/// programs, and tests start tessera, through this.
public final class ChildProcess: @unchecked Sendable {
    /// The child's process id.
    public let pid: pid_t
    private var status: Int32?

    /// Starts `executable` with `arguments`. Standard output and error go to `outputFile` (appended) or
    /// are discarded; standard input is /dev/null.
    public init(
        executable: String, arguments: [String], environment: [String: String]? = nil, outputFile: String? = nil,
        workingDirectory: String? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputFile ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Glibc's addchdir_np is not visible to Swift: change directory through a shell instead.
        let program = workingDirectory == nil ? executable : "/bin/sh"
        let fullArguments = workingDirectory.map { ["-c", "cd \"$0\" && exec \"$@\"", $0, executable] + arguments } ?? arguments
        let argv = ([program] + fullArguments).map { strdup($0) } + [nil]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            env.forEach { free($0) }
        }
        // The child starts with no signal blocked and default handlers: threads of Swift concurrency block
        // every signal, and a child inheriting that mask never sees SIGALRM or SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let result = posix_spawn(&child, program, &actions, &attributes, argv, env)
        guard result == 0 else {
            throw EmbeddedPostgresError(message: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        pid = child
    }

    /// Waits for the child to exit and returns its exit status (128 + signal when killed by a signal).
    @discardableResult
    public func wait() -> Int32 {
        if let status { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let exited = raw & 0x7f == 0
        let code = exited ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status = code
        return code
    }

    /// The exit status if the child has ended, without blocking.
    public func poll() -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        let code = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status = code
        return code
    }

    /// Sends a signal (SIGTERM, SIGKILL, ...).
    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Runs a program to completion and returns its exit status and combined output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(getpid())-\(UUID().uuidString).out").path
        defer { unlink(log) }
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, outputFile: log, workingDirectory: "/")
        let status = child.wait()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (status, output)
    }
}

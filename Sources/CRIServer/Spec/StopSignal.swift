import CRIAPI
import FascoCore

/// The signal that stops a container: the CRI `stop_signal`, else the image's `StopSignal`, else
/// SIGTERM. Numbers are Linux's on x86-64 and arm64 (the generic numbering); real-time signals
/// count from the kernel's SIGRTMIN (34) to SIGRTMAX (64), as Go and containerd number them.
public enum StopSignal {
    public static let sigterm: Int32 = 15
    public static let rtmin: Int32 = 34
    public static let rtmax: Int32 = 64

    /// The stop signal of a container: `cri` unless it is RUNTIME_DEFAULT, else the image's
    /// `StopSignal` text, else SIGTERM. An unknown CRI value or unparsable image text is
    /// INVALID_ARGUMENT.
    public static func resolve(cri: Signal, image: String?) throws(FascoError) -> Int32 {
        if let number = try number(cri) { return number }
        if let image, !image.isEmpty { return try parse(image) }
        return sigterm
    }

    /// The number of a CRI `Signal`; nil for RUNTIME_DEFAULT.
    public static func number(_ signal: Signal) throws(FascoError) -> Int32? {
        switch signal {
        case .runtimeDefault: return nil
        case .unrecognized(let value): throw .invalidArgument("unknown stop signal \(value)")
        default: return try parse(signal.protoName)
        }
    }

    /// Parses signal text as images and `kill -s` write it: `SIGTERM`, `TERM`, `term`, `15`,
    /// `SIGRTMIN+3`, `RTMAX-2` (and the CRI enum's `SIGRTMINPLUS3`, `SIGRTMAXMINUS2`).
    public static func parse(_ text: String) throws(FascoError) -> Int32 {
        let trimmed = text.uppercased()
        if let number = Int32(trimmed) {
            guard number >= 1, number <= rtmax else { throw .invalidArgument("signal \(text) is out of range") }
            return number
        }
        let name = trimmed.hasPrefix("SIG") ? String(trimmed.dropFirst(3)) : trimmed
        if let number = names[name] { return number }
        if let number = realtime(name) { return number }
        throw .invalidArgument("unknown signal \(text)")
    }

    /// `RTMIN`, `RTMIN+n`, `RTMINPLUSn`, `RTMAX`, `RTMAX-n`, `RTMAXMINUSn`.
    private static func realtime(_ name: String) -> Int32? {
        let forms: [(prefix: String, base: Int32, sign: Int32)] = [
            ("RTMINPLUS", rtmin, 1), ("RTMIN+", rtmin, 1), ("RTMAXMINUS", rtmax, -1), ("RTMAX-", rtmax, -1),
        ]
        for form in forms where name.hasPrefix(form.prefix) {
            guard let offset = Int32(name.dropFirst(form.prefix.count)), offset >= 0, offset <= rtmax - rtmin else {
                return nil
            }
            return form.base + form.sign * offset
        }
        return nil
    }

    /// signal(7) names without the SIG prefix.
    private static let names: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
        "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16,
        "CHLD": 17, "CLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
        "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30,
        "SYS": 31, "RTMIN": rtmin, "RTMAX": rtmax,
    ]
}

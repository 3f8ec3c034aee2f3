// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.os;

public class Handler {
    public Handler(Looper looper) { throw new UnsupportedOperationException("stand-in"); }
    public final boolean post(Runnable r) { throw new UnsupportedOperationException("stand-in"); }
    public final boolean postAtTime(Runnable r, long uptimeMillis) { throw new UnsupportedOperationException("stand-in"); }
    public final boolean postDelayed(Runnable r, long delayMillis) { throw new UnsupportedOperationException("stand-in"); }
    public final void removeCallbacksAndMessages(Object token) { throw new UnsupportedOperationException("stand-in"); }
}

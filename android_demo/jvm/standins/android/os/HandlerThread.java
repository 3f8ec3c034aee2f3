// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.os;

public class HandlerThread extends Thread {
    public HandlerThread(String name) { super(name); }
    public Looper getLooper() { throw new UnsupportedOperationException("stand-in"); }
    public boolean quit() { throw new UnsupportedOperationException("stand-in"); }
    public boolean quitSafely() { throw new UnsupportedOperationException("stand-in"); }
}

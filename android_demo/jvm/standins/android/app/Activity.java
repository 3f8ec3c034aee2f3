// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.app;

import android.content.Context;
import android.content.SharedPreferences;
import android.content.res.AssetManager;
import android.os.Bundle;
import android.view.View;

public class Activity extends Context {
    public Activity() {}
    protected void onCreate(Bundle savedInstanceState) { throw new UnsupportedOperationException("stand-in"); }
    protected void onResume() { throw new UnsupportedOperationException("stand-in"); }
    protected void onPause() { throw new UnsupportedOperationException("stand-in"); }
    protected void onDestroy() { throw new UnsupportedOperationException("stand-in"); }
    public void setContentView(int layoutResID) { throw new UnsupportedOperationException("stand-in"); }
    public <T extends View> T findViewById(int id) { throw new UnsupportedOperationException("stand-in"); }
    public final void runOnUiThread(Runnable action) { throw new UnsupportedOperationException("stand-in"); }
    public boolean isFinishing() { throw new UnsupportedOperationException("stand-in"); }
    @Override public AssetManager getAssets() { throw new UnsupportedOperationException("stand-in"); }
    @Override public SharedPreferences getSharedPreferences(String name, int mode) { throw new UnsupportedOperationException("stand-in"); }
    @Override public Object getSystemService(String name) { throw new UnsupportedOperationException("stand-in"); }
}
